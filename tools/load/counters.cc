#include "netstructer/tools/load/counters.h"

#include "absl/strings/str_cat.h"

namespace netstructer::load {

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kUnary:
      return "unary";
    case Kind::kServerStream:
      return "server_stream";
    case Kind::kClientStream:
      return "client_stream";
    case Kind::kBidi:
      return "bidi";
    case Kind::kBridge:
      return "bridge";
  }
  return "?";
}

Kind KindOf(uint32_t connection) {
  static constexpr Kind kMix[10] = {
      Kind::kUnary,  Kind::kServerStream, Kind::kUnary,        Kind::kBidi,
      Kind::kBridge, Kind::kUnary,        Kind::kClientStream, Kind::kUnary,
      Kind::kBidi,   Kind::kBridge};
  return kMix[connection % 10];
}

uint64_t Tally::calls() const {
  uint64_t n = 0;
  for (const KindTally& k : kinds) n += k.calls;
  return n;
}

uint64_t Tally::bytes() const {
  uint64_t n = 0;
  for (const KindTally& k : kinds) n += k.bytes;
  return n;
}

void ClientCounters::Add(Kind kind, uint64_t calls, uint64_t messages,
                         uint64_t bytes) {
  Atomics& a = kinds_[static_cast<int>(kind)];
  a.calls.fetch_add(calls, std::memory_order_relaxed);
  a.messages.fetch_add(messages, std::memory_order_relaxed);
  a.bytes.fetch_add(bytes, std::memory_order_relaxed);
}

void ClientCounters::Error(Kind kind, uint32_t connection,
                           const absl::Status& status) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  Keep(kind, connection, status);
}

void ClientCounters::Mismatch(Kind kind, uint32_t connection,
                              const absl::Status& status) {
  mismatches_.fetch_add(1, std::memory_order_relaxed);
  Keep(kind, connection, status);
}

void ClientCounters::Keep(Kind kind, uint32_t connection,
                          const absl::Status& status) {
  MutexLock lock(&mu_);
  if (failures_.size() < kMaxKept) {
    failures_.push_back(absl::StrCat(KindName(kind), " #", connection, ": ",
                                     status.ToString()));
  }
}

void ClientCounters::Round(absl::Duration duration) {
  const int64_t ns = absl::ToInt64Nanoseconds(duration);
  rounds_.fetch_add(1, std::memory_order_relaxed);
  round_ns_total_.fetch_add(ns, std::memory_order_relaxed);
  int64_t max = round_ns_max_.load(std::memory_order_relaxed);
  while (ns > max && !round_ns_max_.compare_exchange_weak(max, ns)) {
  }
}

Tally ClientCounters::Snapshot() const {
  Tally t;
  for (int i = 0; i < kKinds; ++i) {
    t.kinds[i].calls = kinds_[i].calls.load(std::memory_order_relaxed);
    t.kinds[i].messages = kinds_[i].messages.load(std::memory_order_relaxed);
    t.kinds[i].bytes = kinds_[i].bytes.load(std::memory_order_relaxed);
  }
  t.errors = errors_.load(std::memory_order_relaxed);
  t.mismatches = mismatches_.load(std::memory_order_relaxed);
  t.rounds = rounds_.load(std::memory_order_relaxed);
  t.round_s_total = round_ns_total_.load(std::memory_order_relaxed) * 1e-9;
  t.round_s_max = round_ns_max_.load(std::memory_order_relaxed) * 1e-9;
  return t;
}

std::vector<std::string> ClientCounters::failures() const {
  MutexLock lock(&mu_);
  return failures_;
}

}  // namespace netstructer::load
