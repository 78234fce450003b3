#include "netstructer/service/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace netstructer {
namespace service {
namespace {

// The longest text inet_pton accepts:
// "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" (INET6_ADDRSTRLEN - 1).
constexpr size_t kMaxTextLength = INET6_ADDRSTRLEN - 1;

// The input, escaped and cut short, for an error message (the text may come
// from a command line or a file, so keep it printable and bounded).
std::string Quote(absl::string_view text) {
  constexpr size_t kMaxQuoted = 64;
  std::string quoted =
      absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxQuoted)), "\"");
  if (text.size() > kMaxQuoted) absl::StrAppend(&quoted, "...");
  return quoted;
}

absl::Status NotAnAddress(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(Quote(text), " is not an IP address: ", why));
}

bool IsIPv4Mapped(const std::array<uint8_t, 16>& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

}  // namespace

IpAddress IpAddress::FromIPv4Bytes(const std::array<uint8_t, 4>& bytes) {
  IpAddress ip;
  ip.family_ = Family::kIPv4;
  std::copy(bytes.begin(), bytes.end(), ip.bytes_.begin());
  return ip;
}

IpAddress IpAddress::FromIPv6Bytes(const std::array<uint8_t, 16>& bytes) {
  if (IsIPv4Mapped(bytes)) {
    return FromIPv4Bytes({bytes[12], bytes[13], bytes[14], bytes[15]});
  }
  IpAddress ip;
  ip.family_ = Family::kIPv6;
  ip.bytes_ = bytes;
  return ip;
}

absl::StatusOr<IpAddress> IpAddress::Parse(absl::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError("an empty string is not an IP address");
  }
  if (text.find('%') != absl::string_view::npos) {
    return NotAnAddress(text,
                        "zone ids (\"%eth0\") are not supported; give the "
                        "address without them");
  }
  if (text.front() == '[') {
    return NotAnAddress(text, "remove the brackets");
  }
  if (text.find('/') != absl::string_view::npos) {
    return NotAnAddress(text, "it has a prefix length (a CIDR range?)");
  }
  if (text.size() > kMaxTextLength) {
    return NotAnAddress(text, "too long");
  }
  if (text.find('\0') != absl::string_view::npos) {
    return NotAnAddress(text, "it contains a NUL byte");
  }
  const std::string terminated(text);  // inet_pton wants a C string.
  const size_t colons = std::count(text.begin(), text.end(), ':');
  if (colons == 0) {
    std::array<uint8_t, 4> b;
    if (inet_pton(AF_INET, terminated.c_str(), b.data()) != 1) {
      return NotAnAddress(text,
                          "expected four decimal numbers 0-255 like 192.0.2.1");
    }
    return FromIPv4Bytes(b);
  }
  std::array<uint8_t, 16> b;
  if (inet_pton(AF_INET6, terminated.c_str(), b.data()) != 1) {
    if (colons == 1) {
      return NotAnAddress(text, "HOST:PORT? give the address alone");
    }
    return NotAnAddress(text, "malformed IPv6 address");
  }
  return FromIPv6Bytes(b);
}

absl::StatusOr<IpAddress> IpAddress::FromSockaddr(const sockaddr* address,
                                                  socklen_t length) {
  if (address == nullptr) {
    return absl::InvalidArgumentError("no socket address (null pointer)");
  }
  if (length < static_cast<socklen_t>(sizeof(sa_family_t))) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket address of ", length, " bytes has no family"));
  }
  sa_family_t family;
  std::memcpy(
      &family,
      reinterpret_cast<const char*>(address) + offsetof(sockaddr, sa_family),
      sizeof(family));
  switch (family) {
    case AF_INET: {
      if (length < static_cast<socklen_t>(sizeof(sockaddr_in))) {
        return absl::InvalidArgumentError(
            absl::StrCat("AF_INET socket address of ", length,
                         " bytes is shorter than sockaddr_in"));
      }
      sockaddr_in in;
      std::memcpy(&in, address, sizeof(in));
      std::array<uint8_t, 4> b;
      std::memcpy(b.data(), &in.sin_addr, b.size());
      return FromIPv4Bytes(b);
    }
    case AF_INET6: {
      if (length < static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        return absl::InvalidArgumentError(
            absl::StrCat("AF_INET6 socket address of ", length,
                         " bytes is shorter than sockaddr_in6"));
      }
      sockaddr_in6 in6;
      std::memcpy(&in6, address, sizeof(in6));
      std::array<uint8_t, 16> b;
      std::memcpy(b.data(), &in6.sin6_addr, b.size());
      return FromIPv6Bytes(b);
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("socket address family ", family,
                       " is not an IP family (only AF_INET and AF_INET6 are)"));
  }
}

absl::StatusOr<IpAddress> IpAddress::FromSockaddr(
    const sockaddr_storage& address) {
  return FromSockaddr(reinterpret_cast<const sockaddr*>(&address),
                      sizeof(address));
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN];
  const char* out = inet_ntop(is_ipv4() ? AF_INET : AF_INET6, bytes_.data(),
                              text, sizeof(text));
  // inet_ntop fails only for an unknown family or a short buffer; neither
  // can happen here.
  return out != nullptr ? std::string(out) : std::string("<invalid>");
}

}  // namespace service
}  // namespace netstructer
