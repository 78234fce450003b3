// AcceptPolicy: which peers the server admits, and how many sessions each
// may hold. Pure logic (no sockets, no clock): the server asks it once per
// accepted TCP connection, before reading a byte.
//
// Security: a peer IP is weak identity. It can be spoofed for a handshake's
// worth of packets, hidden behind NAT or a proxy (many users share one IP),
// and rotated by anyone holding a range (IPv6 hosts often own a whole /64).
// The pre-shared key checked by the handshake is the authentication; this
// policy is admission control and abuse limiting: it keeps unwanted networks
// out before any cryptography runs, and bounds how many sessions and
// handshakes a single address, and everybody together, can cost the server.
#ifndef NETSTRUCTER_SERVICE_ACCEPT_POLICY_H_
#define NETSTRUCTER_SERVICE_ACCEPT_POLICY_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "netstructer/service/cidr.h"
#include "netstructer/service/ip_address.h"
#include "netstructer/service/rate_limiter.h"

namespace netstructer {
namespace service {

struct AcceptPolicyOptions {
  // CIDR rules. The most specific (longest prefix) rule matching the peer
  // wins, across both lists; at equal prefix length deny wins. If no rule
  // matches, the peer is admitted when `allow` is empty and refused ("not in
  // the allow list") otherwise. IPv4 rules never match IPv6 peers and vice
  // versa; IPv4-mapped IPv6 peers (dual-stack sockets) are IPv4.
  std::vector<CidrRange> allow;
  std::vector<CidrRange> deny;

  // Sessions one IP may hold at once, handshakes included; 0 = no limit.
  // 64 leaves room for a NAT gateway of a small office or a client with a
  // connection pool, while one host can take at most 64 of the
  // max_sessions_total slots. "One IP" is an IPv4 address, or an IPv6
  // prefix of ipv6_prefix_length bits (the rate limit counts the same way).
  int max_sessions_per_ip = 64;
  // Sessions the server holds at once, handshakes included; 0 = no limit.
  // Each session holds a socket and its buffers: 10000 bounds the memory a
  // connection flood can pin, and fits a raised RLIMIT_NOFILE (the usual
  // soft default of 1024 descriptors does not: raise it, or lower this).
  // Handshakes never lock established clients out: when the server is full
  // and handshakes are among the slots, a newcomer displaces the oldest
  // handshake in progress instead of being refused.
  int max_sessions_total = 10000;
  // Handshakes in progress at once, all peers together (unauthenticated
  // peers: their own, smaller budget); 0 = no limit. When it is full, a
  // newcomer displaces the oldest handshake in progress: a flood of silent
  // sockets then keeps nobody out, it only shortens its own sockets' lives,
  // while a real client's handshake needs one round trip. 256: far more
  // than the handshakes a server completes in a round trip.
  int max_pending_handshakes = 256;
  // An IPv6 host usually owns a whole /64 (SLAAC, privacy addresses), so
  // per-IP limits count IPv6 peers per prefix of this many bits (1-128).
  int ipv6_prefix_length = 64;

  // New connections per second per IP, sustained; 0 = no rate limit.
  // Legitimate clients connect a few times and then reuse their sessions;
  // 20/s is far above that, and caps a single flooding IP at 20 handshakes
  // (X25519 + HMAC each) per second.
  double new_connections_per_ip_per_second = 20;
  // New connections an IP may open at once after being quiet: 40 lets a
  // client open a full connection pool in one go.
  int new_connection_burst_per_ip = 40;
  // The rate limiter tracks at most this many IPs (bounded memory; see
  // ConnectionRateLimiter for what happens when it is full).
  size_t rate_limit_max_tracked_ips = 65536;

  // A connection must finish its handshake within this time or is closed,
  // freeing its slot. Finite: an unauthenticated peer must not hold a slot
  // forever (slowloris). 5 s covers a 1.5 round-trip handshake on slow
  // links with a lost packet (Linux's first retransmission comes after
  // 1 s) while halving what a silent socket holds (it was 10 s).
  absl::Duration handshake_timeout = absl::Seconds(5);
  // An established session with no traffic for this long is closed.
  // absl::InfiniteDuration() = never (the default: authenticated clients may
  // keep idle sessions; keepalive pings detect dead peers). Must be > 0.
  absl::Duration idle_timeout = absl::InfiniteDuration();
  // An established session is closed this long after its handshake, busy
  // or not (GOAWAY UNAVAILABLE; clients reconnect). Bounds how long a
  // session made with a key that leaked outlives the key's removal.
  // absl::InfiniteDuration() = never (the default). Must be > 0.
  absl::Duration max_session_lifetime = absl::InfiniteDuration();

  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;

  // Default options with the rules parsed from the command line
  // (`--allow CIDR`, `--deny CIDR`; each string one CidrRange::Parse
  // input). INVALID_ARGUMENT naming the list and the bad rule.
  static absl::StatusOr<AcceptPolicyOptions> ParseRules(
      absl::Span<const std::string> allow, absl::Span<const std::string> deny);
};

namespace accept_policy_internal {
class Ledger;  // The session counts and the rate limiter, shared.
}  // namespace accept_policy_internal

// One admitted connection's slot: it counts toward max_sessions_per_ip and
// max_sessions_total from Admit() until it is destroyed (or Release()d), so
// a connection that fails its handshake, times out or closes frees its slot
// by dropping its Admission. Move-only. A default-constructed or moved-from
// Admission holds no slot.
//
// An Admission shares the counters with its policy, so it may outlive the
// AcceptPolicy that made it.
//
// Thread-compatible: one Admission is not used from two threads at once, but
// different Admissions may be destroyed on any threads, concurrently with
// Admit().
class Admission {
 public:
  Admission() = default;
  Admission(Admission&& other) noexcept;
  Admission& operator=(Admission&& other) noexcept;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission();

  // True while this object holds a slot.
  bool holds_slot() const { return ledger_ != nullptr; }
  // The admitted peer (0.0.0.0 if no slot is held).
  const IpAddress& peer() const { return peer_; }
  // Admitted on condition that the caller ends its oldest handshake in
  // progress (the server was full, or max_pending_handshakes was reached);
  // until it does, the counts are over their limit by one.
  bool displaces_a_handshake() const { return displaces_; }

  // The handshake completed: the slot stops counting as a handshake in
  // progress (it still counts toward the session caps). Idempotent.
  void Establish();
  // Frees the slot now; afterwards holds_slot() is false. Idempotent.
  void Release();

 private:
  friend class AcceptPolicy;
  std::shared_ptr<accept_policy_internal::Ledger> ledger_;
  IpAddress peer_;
  IpAddress key_;           // What the per-IP counts use (an IPv6 prefix).
  bool pending_ = false;    // Counts as a handshake in progress.
  bool displaces_ = false;
};

// Decides, per new connection, whether to admit the peer, and counts the
// sessions it admitted. The rules and limits are fixed at construction.
//
// Thread-safe (the counters are under a netstructer::Mutex; the rules are
// immutable).
class AcceptPolicy final {
 public:
  // Invalid options make a policy that refuses everyone with
  // FAILED_PRECONDITION (fail closed); prefer Create(), which reports them.
  explicit AcceptPolicy(AcceptPolicyOptions options);
  // INVALID_ARGUMENT if !options.Validate().ok().
  static absl::StatusOr<std::unique_ptr<AcceptPolicy>> Create(
      AcceptPolicyOptions options);
  AcceptPolicy(const AcceptPolicy&) = delete;
  AcceptPolicy& operator=(const AcceptPolicy&) = delete;
  ~AcceptPolicy();

  // Admits a new connection from `peer` at time `now` (from the caller's
  // clock; used by the rate limit only) as a handshake in progress. Checks,
  // in order: the CIDR rules, the rate limit (a connection refused later, by
  // a cap, still used its token: the rate limits attempts), the per-IP cap,
  // then the total cap and the handshake budget. When one of the last two
  // is full and the caller has `displaceable` handshakes in progress, the
  // newcomer is admitted with displaces_a_handshake(): the caller ends its
  // oldest handshake. A refusal by a rule is PERMISSION_DENIED; one for
  // capacity is RESOURCE_EXHAUSTED (worth retrying later). Every reason
  // names the peer and the rule or limit, fit to send to the peer:
  //   "203.0.113.7 is denied by rule 203.0.113.0/24"
  //   "198.51.100.1 is not in the allow list"
  //   "too many new connections from 192.0.2.1 (limit 20/s, burst 40)"
  //   "192.0.2.1 already has 4 sessions (max_sessions_per_ip 4)"
  //   "2001:db8::/64 already has 4 sessions (max_sessions_per_ip 4)"
  //   "the server is at its session limit (10000)"
  // FAILED_PRECONDITION if the options were invalid.
  absl::StatusOr<Admission> Admit(const IpAddress& peer, absl::Time now,
                                  int displaceable = 0);

  // The CIDR decision alone, without side effects: OK or the
  // PERMISSION_DENIED that Admit would give.
  absl::Status CheckRules(const IpAddress& peer) const;

  // Slots held now by `ip` (its IPv6 prefix), and in total (handshakes
  // included); handshakes in progress alone.
  int SessionsFor(const IpAddress& ip) const;
  int TotalSessions() const;
  int PendingHandshakes() const;
  // What per-IP limits count `ip` as: itself, or its IPv6 prefix.
  IpAddress LimitKey(const IpAddress& ip) const;

  const AcceptPolicyOptions& options() const { return options_; }

 private:
  struct Rule {
    CidrRange range;
    bool deny;
  };

  const AcceptPolicyOptions options_;
  const absl::Status options_status_;
  // allow and deny merged, longest prefix first, deny before allow at equal
  // prefix length: the first rule that contains the peer decides.
  // TODO(perf): a linear scan; use a prefix trie for thousands of rules.
  std::vector<Rule> rules_;
  const std::shared_ptr<accept_policy_internal::Ledger> ledger_;
};

}  // namespace service
}  // namespace netstructer

#endif  // NETSTRUCTER_SERVICE_ACCEPT_POLICY_H_
