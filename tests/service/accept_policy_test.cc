#include "netstructer/service/accept_policy.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/service/cidr.h"
#include "netstructer/service/ip_address.h"

namespace netstructer {
namespace service {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

IpAddress Ip(const std::string& text) { return IpAddress::Parse(text).value(); }

AcceptPolicyOptions Rules(const std::vector<std::string>& allow,
                          const std::vector<std::string>& deny) {
  absl::StatusOr<AcceptPolicyOptions> options =
      AcceptPolicyOptions::ParseRules(allow, deny);
  EXPECT_TRUE(options.ok()) << options.status();
  return options.ok() ? *std::move(options) : AcceptPolicyOptions();
}

// No rate limit and no caps: only the rules decide.
AcceptPolicyOptions Unlimited(AcceptPolicyOptions options = {}) {
  options.new_connections_per_ip_per_second = 0;
  options.max_sessions_per_ip = 0;
  options.max_sessions_total = 0;
  return options;
}

// "" if admitted (the slot is released at once), else the refusal message.
std::string Decide(AcceptPolicy& policy, const std::string& ip) {
  absl::StatusOr<Admission> admission = policy.Admit(Ip(ip), kT0);
  if (admission.ok()) return "";
  EXPECT_EQ(admission.status().code(), absl::StatusCode::kPermissionDenied)
      << admission.status();
  return std::string(admission.status().message());
}

// ---- Options

TEST(AcceptPolicyOptions, DefaultsAreValidAndSafe) {
  AcceptPolicyOptions options;
  EXPECT_TRUE(options.Validate().ok());
  EXPECT_TRUE(options.allow.empty());
  EXPECT_TRUE(options.deny.empty());
  EXPECT_EQ(options.max_sessions_per_ip, 64);
  EXPECT_EQ(options.max_sessions_total, 10000);
  EXPECT_EQ(options.new_connections_per_ip_per_second, 20);
  EXPECT_EQ(options.new_connection_burst_per_ip, 40);
  EXPECT_EQ(options.rate_limit_max_tracked_ips, 65536u);
  EXPECT_EQ(options.max_pending_handshakes, 256);
  EXPECT_EQ(options.ipv6_prefix_length, 64);
  EXPECT_EQ(options.handshake_timeout, absl::Seconds(5));
  EXPECT_EQ(options.idle_timeout, absl::InfiniteDuration());
}

TEST(AcceptPolicyOptions, InvalidValuesAreInvalidArgumentNamingTheField) {
  struct Case {
    std::string name;
    void (*mutate)(AcceptPolicyOptions&);
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"per ip", [](AcceptPolicyOptions& o) { o.max_sessions_per_ip = -1; },
       "max_sessions_per_ip"},
      {"total", [](AcceptPolicyOptions& o) { o.max_sessions_total = -1; },
       "max_sessions_total"},
      {"pending", [](AcceptPolicyOptions& o) { o.max_pending_handshakes = -1; },
       "max_pending_handshakes"},
      {"prefix 0", [](AcceptPolicyOptions& o) { o.ipv6_prefix_length = 0; },
       "ipv6_prefix_length"},
      {"prefix 129", [](AcceptPolicyOptions& o) { o.ipv6_prefix_length = 129; },
       "ipv6_prefix_length"},
      {"rate",
       [](AcceptPolicyOptions& o) { o.new_connections_per_ip_per_second = -1; },
       "rate"},
      {"rate nan",
       [](AcceptPolicyOptions& o) {
         o.new_connections_per_ip_per_second = std::nan("");
       },
       "rate"},
      {"burst",
       [](AcceptPolicyOptions& o) { o.new_connection_burst_per_ip = 0; },
       "burst"},
      {"tracked",
       [](AcceptPolicyOptions& o) { o.rate_limit_max_tracked_ips = 0; },
       "max_tracked_ips"},
      {"handshake zero",
       [](AcceptPolicyOptions& o) {
         o.handshake_timeout = absl::ZeroDuration();
       },
       "handshake_timeout"},
      {"handshake infinite",
       [](AcceptPolicyOptions& o) {
         o.handshake_timeout = absl::InfiniteDuration();
       },
       "handshake_timeout"},
      {"idle zero",
       [](AcceptPolicyOptions& o) { o.idle_timeout = absl::ZeroDuration(); },
       "idle_timeout"},
      {"idle negative",
       [](AcceptPolicyOptions& o) { o.idle_timeout = -absl::Seconds(1); },
       "idle_timeout"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AcceptPolicyOptions options;
    c.mutate(options);
    const absl::Status status = options.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message_part));
    EXPECT_EQ(AcceptPolicy::Create(options).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(AcceptPolicyOptions, ParseRulesParsesBothLists) {
  absl::StatusOr<AcceptPolicyOptions> options = AcceptPolicyOptions::ParseRules(
      {"10.0.0.0/8", "2001:db8::/32"}, {"10.1.0.0/16"});
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_EQ(options->allow.size(), 2u);
  EXPECT_EQ(options->allow[0].ToString(), "10.0.0.0/8");
  EXPECT_EQ(options->allow[1].ToString(), "2001:db8::/32");
  ASSERT_EQ(options->deny.size(), 1u);
  EXPECT_EQ(options->deny[0].ToString(), "10.1.0.0/16");
  EXPECT_EQ(options->max_sessions_per_ip, 64);  // Other fields default.
}

TEST(AcceptPolicyOptions, ParseRulesNamesTheListAndTheBadRule) {
  absl::StatusOr<AcceptPolicyOptions> options =
      AcceptPolicyOptions::ParseRules({"10.0.0.1/8"}, {});
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(options.status().message(),
            "bad allow rule: 10.0.0.1/8 has host bits set; did you mean "
            "10.0.0.0/8?");
  options = AcceptPolicyOptions::ParseRules({"10.0.0.0/8"}, {"nope"});
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(options.status().message()),
              HasSubstr("bad deny rule: \"nope\""));
}

TEST(AcceptPolicy, InvalidOptionsFailClosed) {
  AcceptPolicyOptions options;
  options.max_sessions_total = -5;
  AcceptPolicy policy(options);
  absl::StatusOr<Admission> admission = policy.Admit(Ip("127.0.0.1"), kT0);
  EXPECT_EQ(admission.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(admission.status().message()),
              HasSubstr("max_sessions_total"));
}

// ---- CIDR rules

TEST(AcceptPolicy, NoRulesAdmitsEveryone) {
  AcceptPolicy policy(Unlimited());
  EXPECT_EQ(Decide(policy, "192.0.2.1"), "");
  EXPECT_EQ(Decide(policy, "2001:db8::1"), "");
  EXPECT_EQ(Decide(policy, "::ffff:192.0.2.1"), "");
}

TEST(AcceptPolicy, MostSpecificRuleWins) {
  AcceptPolicy policy(Unlimited(
      Rules({"10.0.0.0/8", "10.1.2.0/24"}, {"10.1.0.0/16", "10.1.2.3/32"})));
  EXPECT_EQ(Decide(policy, "10.0.0.1"), "");
  EXPECT_EQ(Decide(policy, "10.255.255.255"), "");
  EXPECT_EQ(Decide(policy, "10.1.0.1"),
            "10.1.0.1 is denied by rule 10.1.0.0/16");
  EXPECT_EQ(Decide(policy, "10.1.3.1"),
            "10.1.3.1 is denied by rule 10.1.0.0/16");
  EXPECT_EQ(Decide(policy, "10.1.2.4"), "");
  EXPECT_EQ(Decide(policy, "10.1.2.3"),
            "10.1.2.3 is denied by rule 10.1.2.3/32");
  EXPECT_EQ(Decide(policy, "11.0.0.1"), "11.0.0.1 is not in the allow list");
  EXPECT_EQ(Decide(policy, "2001:db8::1"),
            "2001:db8::1 is not in the allow list");
  // A dual-stack peer is matched as IPv4.
  EXPECT_EQ(Decide(policy, "::ffff:10.1.2.3"),
            "10.1.2.3 is denied by rule 10.1.2.3/32");
  EXPECT_EQ(Decide(policy, "::ffff:10.1.2.4"), "");
}

TEST(AcceptPolicy, RuleOrderInTheListsDoesNotMatter) {
  AcceptPolicy forward(Unlimited(
      Rules({"10.0.0.0/8", "10.1.2.0/24"}, {"10.1.0.0/16", "0.0.0.0/0"})));
  AcceptPolicy backward(Unlimited(
      Rules({"10.1.2.0/24", "10.0.0.0/8"}, {"0.0.0.0/0", "10.1.0.0/16"})));
  for (const char* ip : {"10.0.0.1", "10.1.0.1", "10.1.2.9", "11.0.0.1"}) {
    SCOPED_TRACE(ip);
    EXPECT_EQ(Decide(forward, ip), Decide(backward, ip));
  }
  EXPECT_EQ(Decide(forward, "11.0.0.1"),
            "11.0.0.1 is denied by rule 0.0.0.0/0");
  EXPECT_EQ(Decide(forward, "10.1.2.9"), "");
}

TEST(AcceptPolicy, TieBetweenAllowAndDenyIsDeny) {
  AcceptPolicy policy(Unlimited(Rules({"192.0.2.0/24", "2001:db8::/32"},
                                      {"192.0.2.0/24", "2001:db8::/32"})));
  EXPECT_EQ(Decide(policy, "192.0.2.7"),
            "192.0.2.7 is denied by rule 192.0.2.0/24");
  EXPECT_EQ(Decide(policy, "2001:db8::7"),
            "2001:db8::7 is denied by rule 2001:db8::/32");
}

TEST(AcceptPolicy, EmptyAllowListAdmitsWhatNoDenyRuleMatches) {
  AcceptPolicy policy(Unlimited(Rules({}, {"203.0.113.0/24"})));
  EXPECT_EQ(Decide(policy, "203.0.113.7"),
            "203.0.113.7 is denied by rule 203.0.113.0/24");
  EXPECT_EQ(Decide(policy, "203.0.114.7"), "");
  EXPECT_EQ(Decide(policy, "2001:db8::1"), "");
}

TEST(AcceptPolicy, NonEmptyAllowListRefusesWhatNoRuleMatches) {
  AcceptPolicy policy(Unlimited(Rules({"127.0.0.1/32"}, {})));
  EXPECT_EQ(Decide(policy, "127.0.0.1"), "");
  EXPECT_EQ(Decide(policy, "127.0.0.2"), "127.0.0.2 is not in the allow list");
  EXPECT_EQ(Decide(policy, "::1"), "::1 is not in the allow list");
}

TEST(AcceptPolicy, FamiliesNeverMatchEachOther) {
  AcceptPolicy deny_all_v6(Unlimited(Rules({}, {"::/0"})));
  EXPECT_EQ(Decide(deny_all_v6, "192.0.2.1"), "");
  EXPECT_EQ(Decide(deny_all_v6, "::ffff:192.0.2.1"), "");
  EXPECT_EQ(Decide(deny_all_v6, "::1"), "::1 is denied by rule ::/0");

  AcceptPolicy deny_all_v4(Unlimited(Rules({}, {"0.0.0.0/0"})));
  EXPECT_EQ(Decide(deny_all_v4, "::1"), "");
  EXPECT_EQ(Decide(deny_all_v4, "::ffff:192.0.2.1"),
            "192.0.2.1 is denied by rule 0.0.0.0/0");
}

TEST(AcceptPolicy, CheckRulesHasNoSideEffects) {
  AcceptPolicyOptions options = Rules({}, {"203.0.113.0/24"});
  options.max_sessions_total = 1;
  AcceptPolicy policy(options);
  EXPECT_EQ(policy.CheckRules(Ip("203.0.113.7")).code(),
            absl::StatusCode::kPermissionDenied);
  for (int i = 0; i < 100; ++i)
    EXPECT_TRUE(policy.CheckRules(Ip("192.0.2.1")).ok());
  EXPECT_EQ(policy.TotalSessions(), 0);
}

TEST(AcceptPolicy, DeniedPeersTakeNoSlotAndNoRateToken) {
  AcceptPolicyOptions options = Rules({}, {"203.0.113.0/24"});
  options.new_connection_burst_per_ip = 1;
  AcceptPolicy policy(options);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(policy.Admit(Ip("203.0.113.7"), kT0).status().message(),
              "203.0.113.7 is denied by rule 203.0.113.0/24");
  }
  EXPECT_EQ(policy.SessionsFor(Ip("203.0.113.7")), 0);
  EXPECT_EQ(policy.TotalSessions(), 0);
}

// ---- Rate limit

TEST(AcceptPolicy, RateLimitsNewConnectionsPerIP) {
  AcceptPolicyOptions options = Unlimited();
  options.new_connections_per_ip_per_second = 20;
  options.new_connection_burst_per_ip = 2;
  AcceptPolicy policy(options);
  const IpAddress ip = Ip("192.0.2.1");
  EXPECT_TRUE(policy.Admit(ip, kT0).ok());
  EXPECT_TRUE(policy.Admit(ip, kT0).ok());
  absl::StatusOr<Admission> refused = policy.Admit(ip, kT0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "too many new connections from 192.0.2.1 (limit 20/s, burst 2)");
  EXPECT_TRUE(policy.Admit(Ip("192.0.2.2"), kT0).ok());  // Another IP.
  EXPECT_FALSE(policy.Admit(ip, kT0 + absl::Milliseconds(49)).ok());
  EXPECT_TRUE(policy.Admit(ip, kT0 + absl::Milliseconds(50)).ok());
}

TEST(AcceptPolicy, RefusalByACapStillUsesARateToken) {
  AcceptPolicyOptions options = Unlimited();
  options.new_connections_per_ip_per_second = 1;
  options.new_connection_burst_per_ip = 2;
  options.max_sessions_per_ip = 1;
  AcceptPolicy policy(options);
  const IpAddress ip = Ip("192.0.2.1");
  absl::StatusOr<Admission> held = policy.Admit(ip, kT0);
  ASSERT_TRUE(held.ok());
  EXPECT_THAT(std::string(policy.Admit(ip, kT0).status().message()),
              HasSubstr("already has 1 sessions"));
  held->Release();
  EXPECT_THAT(std::string(policy.Admit(ip, kT0).status().message()),
              HasSubstr("too many new connections"));
}

// ---- Caps and slots

TEST(AcceptPolicy, PerIPCap) {
  AcceptPolicyOptions options = Unlimited();
  options.max_sessions_per_ip = 4;
  AcceptPolicy policy(options);
  const IpAddress ip = Ip("192.0.2.1");
  std::vector<Admission> held;
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<Admission> admission = policy.Admit(ip, kT0);
    ASSERT_TRUE(admission.ok()) << admission.status();
    held.push_back(*std::move(admission));
  }
  absl::StatusOr<Admission> refused = policy.Admit(ip, kT0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "192.0.2.1 already has 4 sessions (max_sessions_per_ip 4)");
  // Same IP written as IPv4-mapped: the same peer.
  EXPECT_EQ(policy.Admit(Ip("::ffff:192.0.2.1"), kT0).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(policy.Admit(Ip("192.0.2.2"), kT0).ok());
  EXPECT_EQ(policy.SessionsFor(ip), 4);
  held.pop_back();
  EXPECT_EQ(policy.SessionsFor(ip), 3);
  EXPECT_TRUE(policy.Admit(ip, kT0).ok());
}

TEST(AcceptPolicy, TotalCap) {
  AcceptPolicyOptions options = Unlimited();
  options.max_sessions_total = 3;
  AcceptPolicy policy(options);
  std::vector<Admission> held;
  for (const char* ip : {"192.0.2.1", "192.0.2.2", "2001:db8::1"}) {
    absl::StatusOr<Admission> admission = policy.Admit(Ip(ip), kT0);
    ASSERT_TRUE(admission.ok()) << admission.status();
    held.push_back(*std::move(admission));
  }
  absl::StatusOr<Admission> refused = policy.Admit(Ip("192.0.2.9"), kT0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "the server is at its session limit (3)");
  EXPECT_EQ(policy.TotalSessions(), 3);
  held.erase(held.begin());
  EXPECT_EQ(policy.TotalSessions(), 2);
  EXPECT_TRUE(policy.Admit(Ip("192.0.2.9"), kT0).ok());
}

// Handshakes in progress have their own budget, and never lock a newcomer
// out: when the budget or the server is full, the newcomer is admitted on
// condition that the caller ends its oldest handshake.
TEST(AcceptPolicy, AFullHandshakeBudgetDisplacesTheOldestInsteadOfRefusing) {
  AcceptPolicyOptions options = Unlimited();
  options.max_pending_handshakes = 2;
  AcceptPolicy policy(options);
  std::vector<Admission> held;
  for (const char* ip : {"192.0.2.1", "192.0.2.2"}) {
    absl::StatusOr<Admission> admission = policy.Admit(Ip(ip), kT0, 0);
    ASSERT_TRUE(admission.ok()) << admission.status();
    EXPECT_FALSE(admission->displaces_a_handshake());
    held.push_back(*std::move(admission));
  }
  EXPECT_EQ(policy.PendingHandshakes(), 2);
  // A caller with nothing to displace gets a retryable refusal.
  absl::StatusOr<Admission> refused = policy.Admit(Ip("192.0.2.3"), kT0, 0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("max_pending_handshakes 2"));
  absl::StatusOr<Admission> newcomer = policy.Admit(Ip("192.0.2.3"), kT0, 2);
  ASSERT_TRUE(newcomer.ok()) << newcomer.status();
  EXPECT_TRUE(newcomer->displaces_a_handshake());
  held.erase(held.begin());  // The caller ends its oldest handshake.
  EXPECT_EQ(policy.PendingHandshakes(), 2);
  // Established sessions leave the handshake budget, not the session count.
  held[0].Establish();
  held[0].Establish();  // Idempotent.
  EXPECT_EQ(policy.PendingHandshakes(), 1);
  EXPECT_EQ(policy.TotalSessions(), 2);
  absl::StatusOr<Admission> another = policy.Admit(Ip("192.0.2.4"), kT0, 1);
  ASSERT_TRUE(another.ok());
  EXPECT_FALSE(another->displaces_a_handshake());
  held.clear();
  newcomer = Admission();
  EXPECT_EQ(policy.PendingHandshakes(), 1);  // `another` only.
}

TEST(AcceptPolicy, AServerFullOfHandshakesAdmitsANewcomerButOneFullOfSessionsDoesNot) {
  AcceptPolicyOptions options = Unlimited();
  options.max_sessions_total = 2;
  AcceptPolicy policy(options);
  absl::StatusOr<Admission> established = policy.Admit(Ip("192.0.2.1"), kT0, 0);
  ASSERT_TRUE(established.ok());
  established->Establish();
  absl::StatusOr<Admission> silent = policy.Admit(Ip("192.0.2.2"), kT0, 0);
  ASSERT_TRUE(silent.ok());
  // Full, one slot a handshake: the newcomer displaces it.
  absl::StatusOr<Admission> newcomer = policy.Admit(Ip("192.0.2.3"), kT0, 1);
  ASSERT_TRUE(newcomer.ok()) << newcomer.status();
  EXPECT_TRUE(newcomer->displaces_a_handshake());
  silent = Admission();
  newcomer->Establish();
  // Full of established sessions: a refusal, whatever the caller offers.
  absl::StatusOr<Admission> refused = policy.Admit(Ip("192.0.2.4"), kT0, 5);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(), "the server is at its session limit (2)");
}

// An IPv6 host owns a /64: per-IP limits count the prefix (configurable).
TEST(AcceptPolicy, IPv6PeersAreCountedPerPrefix) {
  AcceptPolicyOptions options = Unlimited();
  options.max_sessions_per_ip = 2;
  AcceptPolicy policy(options);
  std::vector<Admission> held;
  for (const char* ip : {"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"}) {
    absl::StatusOr<Admission> admission = policy.Admit(Ip(ip), kT0);
    ASSERT_TRUE(admission.ok()) << admission.status();
    held.push_back(*std::move(admission));
  }
  absl::StatusOr<Admission> refused = policy.Admit(Ip("2001:db8:1:2::77"), kT0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(),
            "2001:db8:1:2::/64 already has 2 sessions (max_sessions_per_ip 2)");
  EXPECT_EQ(policy.SessionsFor(Ip("2001:db8:1:2::abcd")), 2);
  EXPECT_TRUE(policy.Admit(Ip("2001:db8:1:3::1"), kT0).ok());  // Another /64.
  EXPECT_EQ(policy.LimitKey(Ip("192.0.2.1")), Ip("192.0.2.1"));

  // The rate limit counts the same way; and the prefix is configurable.
  AcceptPolicyOptions rate = Unlimited();
  rate.new_connections_per_ip_per_second = 1;
  rate.new_connection_burst_per_ip = 1;
  rate.ipv6_prefix_length = 128;
  AcceptPolicy per_address(rate);
  EXPECT_TRUE(per_address.Admit(Ip("2001:db8::1"), kT0).ok());
  EXPECT_TRUE(per_address.Admit(Ip("2001:db8::2"), kT0).ok());
  rate.ipv6_prefix_length = 64;
  AcceptPolicy per_prefix(rate);
  EXPECT_TRUE(per_prefix.Admit(Ip("2001:db8::1"), kT0).ok());
  absl::StatusOr<Admission> limited = per_prefix.Admit(Ip("2001:db8::2"), kT0);
  EXPECT_EQ(limited.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(limited.status().message()),
              HasSubstr("too many new connections from 2001:db8::/64"));
}

TEST(AcceptPolicy, PerIPCapIsCheckedBeforeTotalCap) {
  AcceptPolicyOptions options = Unlimited();
  options.max_sessions_per_ip = 1;
  options.max_sessions_total = 1;
  AcceptPolicy policy(options);
  absl::StatusOr<Admission> held = policy.Admit(Ip("192.0.2.1"), kT0);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(policy.Admit(Ip("192.0.2.1"), kT0).status().message(),
            "192.0.2.1 already has 1 sessions (max_sessions_per_ip 1)");
  EXPECT_EQ(policy.Admit(Ip("192.0.2.2"), kT0).status().message(),
            "the server is at its session limit (1)");
}

TEST(AcceptPolicy, DestroyingTheAdmissionReleasesTheSlot) {
  AcceptPolicy policy(Unlimited());
  const IpAddress ip = Ip("192.0.2.1");
  {
    absl::StatusOr<Admission> admission = policy.Admit(ip, kT0);
    ASSERT_TRUE(admission.ok());
    EXPECT_TRUE(admission->holds_slot());
    EXPECT_EQ(admission->peer(), ip);
    EXPECT_EQ(policy.SessionsFor(ip), 1);
    EXPECT_EQ(policy.TotalSessions(), 1);
  }
  EXPECT_EQ(policy.SessionsFor(ip), 0);
  EXPECT_EQ(policy.TotalSessions(), 0);
}

TEST(AcceptPolicy, ReleaseIsIdempotent) {
  AcceptPolicy policy(Unlimited());
  const IpAddress ip = Ip("192.0.2.1");
  Admission a = policy.Admit(ip, kT0).value();
  Admission b = policy.Admit(ip, kT0).value();
  EXPECT_EQ(policy.SessionsFor(ip), 2);
  a.Release();
  a.Release();
  EXPECT_FALSE(a.holds_slot());
  EXPECT_EQ(policy.SessionsFor(ip), 1);
  EXPECT_TRUE(b.holds_slot());
}

TEST(AcceptPolicy, AdmissionMoves) {
  AcceptPolicy policy(Unlimited());
  const IpAddress ip = Ip("192.0.2.1");
  const IpAddress other_ip = Ip("192.0.2.2");

  Admission a = policy.Admit(ip, kT0).value();
  Admission b(std::move(a));
  EXPECT_FALSE(a.holds_slot());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(b.holds_slot());
  EXPECT_EQ(b.peer(), ip);
  EXPECT_EQ(policy.SessionsFor(ip), 1);

  // Assigning over a held slot releases it first.
  Admission c = policy.Admit(other_ip, kT0).value();
  EXPECT_EQ(policy.TotalSessions(), 2);
  c = std::move(b);
  EXPECT_EQ(policy.SessionsFor(other_ip), 0);
  EXPECT_EQ(policy.SessionsFor(ip), 1);
  EXPECT_EQ(c.peer(), ip);
  EXPECT_EQ(policy.TotalSessions(), 1);

  // Self-assignment keeps the slot.
  Admission& alias = c;
  c = std::move(alias);
  EXPECT_TRUE(c.holds_slot());
  EXPECT_EQ(policy.TotalSessions(), 1);

  // A default Admission holds nothing; moving it in releases the slot.
  Admission empty;
  EXPECT_FALSE(empty.holds_slot());
  c = std::move(empty);
  EXPECT_FALSE(c.holds_slot());
  EXPECT_EQ(policy.TotalSessions(), 0);
}

TEST(AcceptPolicy, AdmissionMayOutliveThePolicy) {
  auto policy = std::make_unique<AcceptPolicy>(Unlimited());
  Admission admission = policy->Admit(Ip("192.0.2.1"), kT0).value();
  policy.reset();
  EXPECT_TRUE(admission.holds_slot());
  admission.Release();  // No use after free (ASan checks).
}

TEST(AcceptPolicy, HandshakingConnectionsCountTowardTheCaps) {
  // A flood of connections that never finish their handshakes cannot take
  // more than the caps: each holds its slot until dropped.
  AcceptPolicyOptions options;  // Defaults, but a small total for the test.
  options.max_sessions_total = 100;
  options.new_connections_per_ip_per_second = 0;
  AcceptPolicy policy(options);
  std::vector<Admission> handshaking;
  int refused = 0;
  for (uint32_t i = 0; i < 1000; ++i) {
    absl::StatusOr<Admission> admission = policy.Admit(
        IpAddress::FromIPv4Bytes({198, 51, static_cast<uint8_t>(i / 256),
                                  static_cast<uint8_t>(i % 256)}),
        kT0);
    if (admission.ok()) {
      handshaking.push_back(*std::move(admission));
    } else {
      ++refused;
    }
  }
  EXPECT_EQ(handshaking.size(), 100u);
  EXPECT_EQ(refused, 900);
  handshaking.clear();  // Handshake timeouts: the slots come back.
  EXPECT_EQ(policy.TotalSessions(), 0);
}

// ---- Threads (also run under --config=tsan)

TEST(AcceptPolicy, ConcurrentAdmitAndReleaseKeepTheCaps) {
  constexpr int kThreads = 4;
  constexpr int kIterations = 3000;
  constexpr int kPerIp = 3;
  constexpr int kTotal = 16;
  AcceptPolicyOptions options = Unlimited();
  options.max_sessions_per_ip = kPerIp;
  options.max_sessions_total = kTotal;
  options.new_connections_per_ip_per_second = 1000;
  options.new_connection_burst_per_ip = 100;
  AcceptPolicy policy(options);

  std::atomic<int> held_total{0};
  std::atomic<int> admitted{0};
  std::atomic<bool> violation{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&policy, &held_total, &admitted, &violation, t] {
      std::vector<Admission> held;
      uint32_t state = 12345u + static_cast<uint32_t>(t);
      for (int i = 0; i < kIterations; ++i) {
        state = state * 1103515245u + 12345u;  // Deterministic LCG.
        const IpAddress ip = IpAddress::FromIPv4Bytes(
            {192, 0, 2, static_cast<uint8_t>((state >> 16) % 8)});
        const absl::Time now = kT0 + absl::Milliseconds(i);
        if ((state >> 8) % 3 != 0 || held.empty()) {
          absl::StatusOr<Admission> admission = policy.Admit(ip, now);
          if (admission.ok()) {
            if (held_total.fetch_add(1) + 1 > kTotal) violation = true;
            admitted.fetch_add(1);
            held.push_back(*std::move(admission));
          }
        } else {
          held_total.fetch_sub(1);
          held.erase(held.begin() + (state >> 4) % held.size());
        }
        if (policy.SessionsFor(ip) > kPerIp) violation = true;
        if (policy.TotalSessions() > kTotal) violation = true;
      }
      held_total.fetch_sub(static_cast<int>(held.size()));
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_FALSE(violation.load());
  EXPECT_GT(admitted.load(), kTotal);  // Slots were reused.
  EXPECT_EQ(policy.TotalSessions(), 0);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(policy.SessionsFor(IpAddress::FromIPv4Bytes(
                  {192, 0, 2, static_cast<uint8_t>(i)})),
              0);
  }
}

}  // namespace
}  // namespace service
}  // namespace netstructer
