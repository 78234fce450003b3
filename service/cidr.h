// CidrRange: a block of IP addresses, "10.0.0.0/8" or "2001:db8::/32".
#ifndef NETSTRUCTER_SERVICE_CIDR_H_
#define NETSTRUCTER_SERVICE_CIDR_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/service/ip_address.h"

namespace netstructer {
namespace service {

// A value type: copyable, comparable, hashable. Invariant: the network
// address has no bits set beyond the prefix, and 0 <= prefix_length() <=
// network().bit_length().
//
// Families never mix: an IPv4 range never contains an IPv6 address and vice
// versa, so "::/0" matches every IPv6 peer and no IPv4 peer (use 0.0.0.0/0
// for those). IPv4-mapped ranges are normalised like addresses:
// "::ffff:10.0.0.0/104" is 10.0.0.0/8.
//
// Thread-compatible (immutable after construction).
class CidrRange {
 public:
  // "NETWORK/PREFIX" (PREFIX a decimal number without sign or leading
  // zeros) or a bare address, which is the /32 or /128 of that address.
  // INVALID_ARGUMENT naming the input for a malformed address or prefix, a
  // prefix out of range for the family, or host bits set ("10.0.0.1/8 has
  // host bits set; did you mean 10.0.0.0/8?": a typo there would silently
  // widen or shift the rule, so it is refused rather than masked).
  static absl::StatusOr<CidrRange> Parse(absl::string_view text);

  // The range of `network`/`prefix_length`, with the same checks as Parse.
  static absl::StatusOr<CidrRange> Create(const IpAddress& network,
                                          int prefix_length);

  // The range of the addresses sharing the first `prefix_length` bits of
  // `address` (host bits cleared). `prefix_length` is clamped to
  // [0, address.bit_length()].
  static CidrRange Containing(const IpAddress& address, int prefix_length);

  const IpAddress& network() const { return network_; }
  int prefix_length() const { return prefix_length_; }

  // True if `address` is of the same family and shares the first
  // prefix_length() bits of network().
  bool Contains(const IpAddress& address) const;

  // Canonical text "NETWORK/PREFIX" (always with the prefix, even /32);
  // Parse() of it gives back an equal range.
  std::string ToString() const;

  friend bool operator==(const CidrRange& a, const CidrRange& b) {
    return a.prefix_length_ == b.prefix_length_ && a.network_ == b.network_;
  }
  friend bool operator!=(const CidrRange& a, const CidrRange& b) {
    return !(a == b);
  }
  // By network address, then by prefix length.
  friend bool operator<(const CidrRange& a, const CidrRange& b) {
    if (a.network_ != b.network_) return a.network_ < b.network_;
    return a.prefix_length_ < b.prefix_length_;
  }

  template <typename H>
  friend H AbslHashValue(H h, const CidrRange& r) {
    return H::combine(std::move(h), r.network_, r.prefix_length_);
  }

 private:
  CidrRange(const IpAddress& network, int prefix_length)
      : network_(network), prefix_length_(prefix_length) {}

  IpAddress network_;
  int prefix_length_;
};

}  // namespace service
}  // namespace netstructer

#endif  // NETSTRUCTER_SERVICE_CIDR_H_
