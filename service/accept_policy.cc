#include "netstructer/service/accept_policy.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/transport/mutex.h"

namespace netstructer {
namespace service {
namespace accept_policy_internal {

// Thread-safe. Shared by an AcceptPolicy and its Admissions.
class Ledger {
 public:
  explicit Ledger(const RateLimiterOptions& rate) : limiter(rate) {}

  Mutex mu;
  ConnectionRateLimiter limiter ABSL_GUARDED_BY(mu);
  // Only IPs with at least one slot: bounded by the slots held.
  absl::flat_hash_map<IpAddress, int> per_ip ABSL_GUARDED_BY(mu);
  int total ABSL_GUARDED_BY(mu) = 0;    // Handshakes included.
  int pending ABSL_GUARDED_BY(mu) = 0;  // Handshakes alone.

  void Release(const IpAddress& key, bool pending_slot) {
    MutexLock lock(&mu);
    auto it = per_ip.find(key);
    if (it == per_ip.end()) return;  // Unreachable: every slot is counted.
    if (--it->second == 0) per_ip.erase(it);
    --total;
    if (pending_slot) --pending;
  }
  void Establish() {
    MutexLock lock(&mu);
    --pending;
  }
};

}  // namespace accept_policy_internal

namespace {

using accept_policy_internal::Ledger;

RateLimiterOptions RateOptions(const AcceptPolicyOptions& options) {
  RateLimiterOptions rate;
  rate.rate_per_second = options.new_connections_per_ip_per_second;
  rate.burst = options.new_connection_burst_per_ip;
  rate.max_tracked_ips = options.rate_limit_max_tracked_ips;
  return rate;
}

absl::StatusOr<std::vector<CidrRange>> ParseList(
    absl::string_view list, absl::Span<const std::string> texts) {
  std::vector<CidrRange> ranges;
  ranges.reserve(texts.size());
  for (const std::string& text : texts) {
    absl::StatusOr<CidrRange> range = CidrRange::Parse(text);
    if (!range.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad ", list, " rule: ", range.status().message()));
    }
    ranges.push_back(*range);
  }
  return ranges;
}

}  // namespace

absl::Status AcceptPolicyOptions::Validate() const {
  if (max_sessions_per_ip < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_sessions_per_ip must be >= 0 (0 = no limit), not ",
                     max_sessions_per_ip));
  }
  if (max_sessions_total < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_sessions_total must be >= 0 (0 = no limit), not ",
                     max_sessions_total));
  }
  if (max_pending_handshakes < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_pending_handshakes must be >= 0 (0 = no limit), not ",
        max_pending_handshakes));
  }
  if (ipv6_prefix_length < 1 || ipv6_prefix_length > 128) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ipv6_prefix_length must be 1 to 128, not ", ipv6_prefix_length));
  }
  NS_RETURN_IF_ERROR(RateOptions(*this).Validate());
  if (handshake_timeout <= absl::ZeroDuration() ||
      handshake_timeout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "handshake_timeout must be finite and > 0 (an unauthenticated peer "
        "must not hold a slot forever), not ",
        absl::FormatDuration(handshake_timeout)));
  }
  if (max_session_lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_session_lifetime must be > 0 (absl::InfiniteDuration() for none), "
        "not ",
        absl::FormatDuration(max_session_lifetime)));
  }
  if (idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "idle_timeout must be > 0 (absl::InfiniteDuration() for none), not ",
        absl::FormatDuration(idle_timeout)));
  }
  return absl::OkStatus();
}

absl::StatusOr<AcceptPolicyOptions> AcceptPolicyOptions::ParseRules(
    absl::Span<const std::string> allow, absl::Span<const std::string> deny) {
  AcceptPolicyOptions options;
  NS_ASSIGN_OR_RETURN(options.allow, ParseList("allow", allow));
  NS_ASSIGN_OR_RETURN(options.deny, ParseList("deny", deny));
  return options;
}

// ---- Admission

Admission::Admission(Admission&& other) noexcept
    : ledger_(std::move(other.ledger_)),
      peer_(other.peer_),
      key_(other.key_),
      pending_(other.pending_),
      displaces_(other.displaces_) {
  other.ledger_ = nullptr;
}

Admission& Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    Release();
    ledger_ = std::move(other.ledger_);
    other.ledger_ = nullptr;
    peer_ = other.peer_;
    key_ = other.key_;
    pending_ = other.pending_;
    displaces_ = other.displaces_;
  }
  return *this;
}

Admission::~Admission() { Release(); }

void Admission::Establish() {
  if (ledger_ == nullptr || !pending_) return;
  ledger_->Establish();
  pending_ = false;
}

void Admission::Release() {
  if (ledger_ == nullptr) return;
  ledger_->Release(key_, pending_);
  ledger_ = nullptr;
}

// ---- AcceptPolicy

AcceptPolicy::AcceptPolicy(AcceptPolicyOptions options)
    : options_(std::move(options)),
      options_status_(options_.Validate()),
      ledger_(std::make_shared<Ledger>(options_status_.ok()
                                           ? RateOptions(options_)
                                           : RateLimiterOptions())) {
  rules_.reserve(options_.allow.size() + options_.deny.size());
  for (const CidrRange& range : options_.allow)
    rules_.push_back({range, false});
  for (const CidrRange& range : options_.deny) rules_.push_back({range, true});
  std::stable_sort(rules_.begin(), rules_.end(),
                   [](const Rule& a, const Rule& b) {
                     if (a.range.prefix_length() != b.range.prefix_length()) {
                       return a.range.prefix_length() > b.range.prefix_length();
                     }
                     return a.deny && !b.deny;
                   });
}

absl::StatusOr<std::unique_ptr<AcceptPolicy>> AcceptPolicy::Create(
    AcceptPolicyOptions options) {
  NS_RETURN_IF_ERROR(options.Validate());
  return std::make_unique<AcceptPolicy>(std::move(options));
}

AcceptPolicy::~AcceptPolicy() = default;

absl::Status AcceptPolicy::CheckRules(const IpAddress& peer) const {
  for (const Rule& rule : rules_) {
    if (!rule.range.Contains(peer)) continue;
    if (!rule.deny) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        peer.ToString(), " is denied by rule ", rule.range.ToString()));
  }
  if (options_.allow.empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(peer.ToString(), " is not in the allow list"));
}

IpAddress AcceptPolicy::LimitKey(const IpAddress& ip) const {
  if (!ip.is_ipv6() || options_.ipv6_prefix_length >= 128) return ip;
  return CidrRange::Containing(ip, options_.ipv6_prefix_length).network();
}

absl::StatusOr<Admission> AcceptPolicy::Admit(const IpAddress& peer,
                                              absl::Time now,
                                              int displaceable) {
  if (!options_status_.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the accept policy is invalid: ", options_status_.message()));
  }
  NS_RETURN_IF_ERROR(CheckRules(peer));
  const IpAddress key = LimitKey(peer);
  const std::string who =
      key == peer ? peer.ToString()
                  : absl::StrCat(key.ToString(), "/", options_.ipv6_prefix_length);
  MutexLock lock(&ledger_->mu);
  if (!ledger_->limiter.TryAcquire(key, now)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "too many new connections from %s (limit %g/s, burst %d)", who,
        options_.new_connections_per_ip_per_second,
        options_.new_connection_burst_per_ip));
  }
  auto found = ledger_->per_ip.find(key);
  const int held = found == ledger_->per_ip.end() ? 0 : found->second;
  if (options_.max_sessions_per_ip > 0 &&
      held >= options_.max_sessions_per_ip) {
    return absl::ResourceExhaustedError(absl::StrCat(
        who, " already has ", held, " sessions (max_sessions_per_ip ",
        options_.max_sessions_per_ip, ")"));
  }
  const bool full = options_.max_sessions_total > 0 &&
                    ledger_->total >= options_.max_sessions_total;
  const bool handshakes_full = options_.max_pending_handshakes > 0 &&
                               ledger_->pending >= options_.max_pending_handshakes;
  // A handshake in progress gives way to a newcomer rather than lock it
  // out: unauthenticated peers must not be able to fill the server.
  const bool displaces = (full || handshakes_full) && displaceable > 0 &&
                         ledger_->pending > 0;
  if (full && !displaces) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the server is at its session limit (",
                     options_.max_sessions_total, ")"));
  }
  if (handshakes_full && !displaces) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the server has too many handshakes in progress (max_pending_handshakes ",
        options_.max_pending_handshakes, ")"));
  }
  ++ledger_->per_ip[key];
  ++ledger_->total;
  ++ledger_->pending;
  Admission admission;
  admission.ledger_ = ledger_;
  admission.peer_ = peer;
  admission.key_ = key;
  admission.pending_ = true;
  admission.displaces_ = displaces;
  return admission;
}

int AcceptPolicy::SessionsFor(const IpAddress& ip) const {
  const IpAddress key = LimitKey(ip);
  MutexLock lock(&ledger_->mu);
  auto found = ledger_->per_ip.find(key);
  return found == ledger_->per_ip.end() ? 0 : found->second;
}

int AcceptPolicy::PendingHandshakes() const {
  MutexLock lock(&ledger_->mu);
  return ledger_->pending;
}

int AcceptPolicy::TotalSessions() const {
  MutexLock lock(&ledger_->mu);
  return ledger_->total;
}

}  // namespace service
}  // namespace netstructer
