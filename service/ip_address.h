// IpAddress: an IPv4 or IPv6 address as a value (no port, no zone id).
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are normalised to IPv4 when
// parsed or read from a sockaddr, so the peers of a dual-stack socket match
// IPv4 rules and count toward the same per-IP limits as their IPv4 form.
#ifndef NETSTRUCTER_SERVICE_IP_ADDRESS_H_
#define NETSTRUCTER_SERVICE_IP_ADDRESS_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace netstructer {
namespace service {

// A value type: copyable, comparable, hashable (absl::Hash). Default
// constructed it is 0.0.0.0. Ordering: every IPv4 address sorts before every
// IPv6 address, then by bytes (network order).
//
// Thread-compatible (immutable after construction).
class IpAddress {
 public:
  enum class Family : uint8_t { kIPv4 = 4, kIPv6 = 6 };

  // 0.0.0.0.
  IpAddress() = default;

  // Parses the textual forms of inet_pton(3): dotted decimal "127.0.0.1"
  // (exactly four decimal parts, no leading zeros, so no octal surprises) or
  // RFC 4291 text "::1", "fe80::1", "::ffff:1.2.3.4" (hex in either case).
  // INVALID_ARGUMENT, naming the input, for anything else: empty text,
  // surrounding spaces, brackets ("[::1]"), ports, zone ids ("fe80::1%eth0").
  static absl::StatusOr<IpAddress> Parse(absl::string_view text);

  // The address of an AF_INET or AF_INET6 socket address of `length` bytes
  // (as accept(2) or getpeername(2) filled it). INVALID_ARGUMENT for a null
  // pointer, another family (AF_UNIX, ...) or a length too short for the
  // family. The port and the IPv6 scope id are ignored.
  static absl::StatusOr<IpAddress> FromSockaddr(const sockaddr* address,
                                                socklen_t length);
  static absl::StatusOr<IpAddress> FromSockaddr(
      const sockaddr_storage& address);

  // From raw bytes in network order. FromIPv6Bytes normalises IPv4-mapped
  // addresses to IPv4.
  static IpAddress FromIPv4Bytes(const std::array<uint8_t, 4>& bytes);
  static IpAddress FromIPv6Bytes(const std::array<uint8_t, 16>& bytes);

  Family family() const { return family_; }
  bool is_ipv4() const { return family_ == Family::kIPv4; }
  bool is_ipv6() const { return family_ == Family::kIPv6; }
  // 32 or 128.
  int bit_length() const { return is_ipv4() ? 32 : 128; }
  // The address in network order: 4 bytes for IPv4, 16 for IPv6.
  absl::Span<const uint8_t> bytes() const {
    return absl::MakeConstSpan(bytes_.data(), is_ipv4() ? 4 : 16);
  }

  // Canonical text (inet_ntop(3)): "192.0.2.1", "2001:db8::1". Parse() of it
  // gives back an equal address.
  std::string ToString() const;

  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.family_ == b.family_ && a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const IpAddress& a, const IpAddress& b) {
    return !(a == b);
  }
  friend bool operator<(const IpAddress& a, const IpAddress& b) {
    if (a.family_ != b.family_) return a.family_ < b.family_;
    return a.bytes_ < b.bytes_;
  }
  friend bool operator>(const IpAddress& a, const IpAddress& b) {
    return b < a;
  }
  friend bool operator<=(const IpAddress& a, const IpAddress& b) {
    return !(b < a);
  }
  friend bool operator>=(const IpAddress& a, const IpAddress& b) {
    return !(a < b);
  }

  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.family_, a.bytes_);
  }

 private:
  Family family_ = Family::kIPv4;
  // Network order; an IPv4 address uses the first 4 bytes, the rest are 0
  // (so the defaulted comparisons above are exact).
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace service
}  // namespace netstructer

#endif  // NETSTRUCTER_SERVICE_IP_ADDRESS_H_
