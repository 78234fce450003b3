#include "netstructer/service/cidr.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace netstructer {
namespace service {
namespace {

// The input, escaped and cut short, for an error message.
std::string Quote(absl::string_view text) {
  constexpr size_t kMaxQuoted = 64;
  std::string quoted =
      absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxQuoted)), "\"");
  if (text.size() > kMaxQuoted) absl::StrAppend(&quoted, "...");
  return quoted;
}

// `bytes` with every bit after the first `prefix_length` cleared.
std::array<uint8_t, 16> Masked(absl::Span<const uint8_t> bytes,
                               int prefix_length) {
  std::array<uint8_t, 16> out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  for (int i = 0; i < static_cast<int>(out.size()); ++i) {
    const int bits_kept = std::clamp(prefix_length - 8 * i, 0, 8);
    out[i] &= static_cast<uint8_t>(0xff00u >> bits_kept);
  }
  return out;
}

IpAddress FromBytes(IpAddress::Family family,
                    const std::array<uint8_t, 16>& b) {
  if (family == IpAddress::Family::kIPv4) {
    return IpAddress::FromIPv4Bytes({b[0], b[1], b[2], b[3]});
  }
  return IpAddress::FromIPv6Bytes(b);
}

// The IPv4-mapped IPv6 form ::ffff:a.b.c.d of an IPv4 address.
std::array<uint8_t, 16> MappedBytes(const IpAddress& v4) {
  std::array<uint8_t, 16> b{};
  b[10] = 0xff;
  b[11] = 0xff;
  std::copy(v4.bytes().begin(), v4.bytes().end(), b.begin() + 12);
  return b;
}

// A decimal prefix length: 1 to 3 digits, no sign, no leading zero.
bool ParsePrefix(absl::string_view text, int* prefix) {
  if (text.empty() || text.size() > 3) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *prefix = value;
  return true;
}

// `shown` is the input, printed as is: it parsed, so it is plain text.
absl::Status HostBitsSet(absl::string_view shown, const IpAddress& suggestion,
                         int prefix_length) {
  return absl::InvalidArgumentError(
      absl::StrCat(shown, " has host bits set; did you mean ",
                   suggestion.ToString(), "/", prefix_length, "?"));
}

}  // namespace

CidrRange CidrRange::Containing(const IpAddress& address, int prefix_length) {
  const int prefix = std::clamp(prefix_length, 0, address.bit_length());
  return CidrRange(FromBytes(address.family(), Masked(address.bytes(), prefix)),
                   prefix);
}

absl::StatusOr<CidrRange> CidrRange::Create(const IpAddress& network,
                                            int prefix_length) {
  if (prefix_length < 0 || prefix_length > network.bit_length()) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefix length ", prefix_length, " is out of range for ",
                     network.is_ipv4() ? "IPv4 (0-32)" : "IPv6 (0-128)"));
  }
  CidrRange range = Containing(network, prefix_length);
  if (range.network_ != network) {
    return HostBitsSet(absl::StrCat(network.ToString(), "/", prefix_length),
                       range.network_, prefix_length);
  }
  return range;
}

absl::StatusOr<CidrRange> CidrRange::Parse(absl::string_view text) {
  const size_t slash = text.find('/');
  const absl::string_view address_text = text.substr(0, slash);
  absl::StatusOr<IpAddress> address = IpAddress::Parse(address_text);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Quote(text), " is not a CIDR range: ", address.status().message()));
  }
  // A textual IPv6 address that IpAddress normalised to IPv4 (::ffff:a.b.c.d).
  const bool written_as_ipv6 =
      address_text.find(':') != absl::string_view::npos;
  const int written_bits = written_as_ipv6 ? 128 : 32;
  if (slash == absl::string_view::npos) {
    return CidrRange(*address, address->bit_length());
  }
  int prefix = 0;
  if (!ParsePrefix(text.substr(slash + 1), &prefix)) {
    return absl::InvalidArgumentError(absl::StrCat(
        Quote(text),
        " is not a CIDR range: the prefix length after '/' must be a decimal "
        "number without leading zeros"));
  }
  if (prefix > written_bits) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(text), " is not a CIDR range: prefix length ",
                     prefix, " is out of range for ",
                     written_as_ipv6 ? "IPv6 (0-128)" : "IPv4 (0-32)"));
  }
  if (address->is_ipv4() && written_as_ipv6) {
    // ::ffff:a.b.c.d/P. With P >= 96 it is the IPv4 range a.b.c.d/(P-96);
    // below 96 the ffff bits are host bits, so it always has host bits set.
    if (prefix < 96) {
      return HostBitsSet(
          text, IpAddress::FromIPv6Bytes(Masked(MappedBytes(*address), prefix)),
          prefix);
    }
    prefix -= 96;
  }
  CidrRange range = Containing(*address, prefix);
  if (range.network_ != *address) {
    return HostBitsSet(text, range.network_, range.prefix_length_);
  }
  return range;
}

bool CidrRange::Contains(const IpAddress& address) const {
  if (address.family() != network_.family()) return false;
  return Masked(address.bytes(), prefix_length_) ==
         Masked(network_.bytes(), prefix_length_);
}

std::string CidrRange::ToString() const {
  return absl::StrCat(network_.ToString(), "/", prefix_length_);
}

}  // namespace service
}  // namespace netstructer
