// Fuzzes the accept policy's parsers of untrusted text (command lines,
// configuration files): IpAddress::Parse and CidrRange::Parse, one input
// line at a time. Beyond "never crash": a refusal is INVALID_ARGUMENT; an
// accepted value prints canonically and parses back to an equal value; a
// range contains its own network address and agrees bit for bit with a
// naive Contains on every address of the input. A broken invariant abort()s.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "netstructer/service/cidr.h"
#include "netstructer/service/ip_address.h"

namespace {

using netstructer::service::CidrRange;
using netstructer::service::IpAddress;

// Cross-checks at most this many addresses against this many ranges.
constexpr size_t kMaxPairs = 32;

void Check(bool ok, const char* what, absl::string_view detail) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool Bit(absl::Span<const uint8_t> bytes, int i) {
  return (bytes[i / 8] >> (7 - i % 8)) & 1;
}

// The definition, one bit at a time.
bool NaiveContains(const CidrRange& range, const IpAddress& ip) {
  if (ip.family() != range.network().family()) return false;
  for (int i = 0; i < range.prefix_length(); ++i) {
    if (Bit(ip.bytes(), i) != Bit(range.network().bytes(), i)) return false;
  }
  return true;
}

// `ip` with bit `i` (0 = most significant) flipped.
IpAddress FlipBit(const IpAddress& ip, int i) {
  std::array<uint8_t, 16> b{};
  for (size_t k = 0; k < ip.bytes().size(); ++k) b[k] = ip.bytes()[k];
  b[i / 8] ^= static_cast<uint8_t>(0x80u >> (i % 8));
  if (ip.is_ipv4()) return IpAddress::FromIPv4Bytes({b[0], b[1], b[2], b[3]});
  return IpAddress::FromIPv6Bytes(b);
}

void CheckAddress(absl::string_view line, const IpAddress& ip) {
  const std::string text = ip.ToString();
  const std::string detail = absl::StrCat(line, " -> ", text);
  const absl::StatusOr<IpAddress> again = IpAddress::Parse(text);
  Check(again.ok() && *again == ip, "ToString parses to an equal address",
        detail);
  Check(again->ToString() == text, "ToString is a fixed point", detail);
  Check(ip.bytes().size() * 8 == static_cast<size_t>(ip.bit_length()),
        "bit_length matches the bytes", detail);
  // A bare address is a valid CIDR range: its own /32 or /128.
  const absl::StatusOr<CidrRange> single = CidrRange::Parse(line);
  Check(single.ok() && single->network() == ip &&
            single->prefix_length() == ip.bit_length() && single->Contains(ip),
        "an address is its own full-length range", detail);
}

void CheckRange(absl::string_view line, const CidrRange& range) {
  const std::string text = range.ToString();
  const std::string detail = absl::StrCat(line, " -> ", text);
  const absl::StatusOr<CidrRange> again = CidrRange::Parse(text);
  Check(again.ok() && *again == range, "ToString parses to an equal range",
        detail);
  Check(again->ToString() == text, "ToString is a fixed point", detail);
  const IpAddress& network = range.network();
  const int prefix = range.prefix_length();
  Check(prefix >= 0 && prefix <= network.bit_length(), "prefix in range",
        detail);
  Check(range.Contains(network), "a range contains its network address",
        detail);
  const absl::StatusOr<CidrRange> created = CidrRange::Create(network, prefix);
  Check(created.ok() && *created == range, "Create agrees with Parse", detail);
  Check(CidrRange::Containing(network, prefix) == range,
        "Containing agrees with Parse", detail);
  if (prefix < network.bit_length()) {
    const IpAddress last_bit = FlipBit(network, network.bit_length() - 1);
    Check(range.Contains(last_bit), "host bits do not matter", detail);
    Check(!CidrRange::Create(last_bit, prefix).ok(),
          "host bits set are refused", detail);
  }
  if (prefix > 0) {
    Check(!range.Contains(FlipBit(network, prefix - 1)),
          "the last prefix bit matters", detail);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<IpAddress> addresses;
  std::vector<CidrRange> ranges;
  for (absl::string_view line : absl::StrSplit(input, '\n')) {
    const absl::StatusOr<IpAddress> ip = IpAddress::Parse(line);
    if (ip.ok()) {
      CheckAddress(line, *ip);
      if (addresses.size() < kMaxPairs) addresses.push_back(*ip);
    } else {
      Check(ip.status().code() == absl::StatusCode::kInvalidArgument,
            "an address is refused with INVALID_ARGUMENT",
            ip.status().ToString());
    }
    const absl::StatusOr<CidrRange> range = CidrRange::Parse(line);
    if (range.ok()) {
      CheckRange(line, *range);
      if (ranges.size() < kMaxPairs) ranges.push_back(*range);
      if (addresses.size() < kMaxPairs) addresses.push_back(range->network());
    } else {
      Check(range.status().code() == absl::StatusCode::kInvalidArgument,
            "a range is refused with INVALID_ARGUMENT",
            range.status().ToString());
      Check(!ip.ok(), "every address is a range", line);
    }
  }
  for (const CidrRange& range : ranges) {
    for (const IpAddress& ip : addresses) {
      Check(range.Contains(ip) == NaiveContains(range, ip),
            "Contains agrees with the bitwise definition",
            absl::StrCat(range.ToString(), " ", ip.ToString()));
    }
  }
  return 0;
}
