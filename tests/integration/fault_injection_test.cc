// Real traffic through a fault-injecting proxy (tests/testing/tcp_proxy.h):
// Bridge messages both ways, and RPC calls of every kind through generated
// stubs, for each fault kind (random small writes, delays, a duplicated,
// dropped or flipped run of bytes, a cut) and several seeds each. Every run
// either delivers every value correctly and in order, or fails with an error
// the docs give for a broken connection, within a bounded time: never a
// wrong value, never a hang (every wait has a deadline, and a watchdog turns
// a blocking call that never returns into a failure). Splitting and delaying
// must always deliver.
//
// Reproduce: the plans derive from FAULT_SEED (default 1), e.g.
//   bazel test //tests/integration:fault_injection_test \
//     --test_env=FAULT_SEED=1 --test_output=all
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/proto/value.h"
#include "netstructer/proto/value_compare.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/tests/testing/tcp_proxy.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/fernet.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer {
namespace {

using ::netstructer::test::EchoService;
using ::netstructer::test::rpc::Echo;
using ::netstructer::test::rpc::EchoReply;
using ::netstructer::test::rpc::EchoRequest;
using ::netstructer::testing::ByteFaults;
using ::netstructer::testing::TcpProxy;
using ::netstructer::testing::Watchdog;

enum class Fault { kSplit, kDelay, kDuplicate, kDrop, kFlip, kCut };
constexpr Fault kFaults[] = {Fault::kSplit, Fault::kDelay, Fault::kDuplicate,
                             Fault::kDrop,  Fault::kFlip,  Fault::kCut};
constexpr int kSeedsPerFault = 8;

const char* FaultName(Fault fault) {
  constexpr const char* kNames[] = {"split", "delay",   "duplicate",
                                    "drop",  "corrupt", "cut"};
  return kNames[static_cast<int>(fault)];
}

// A keepalive short enough that a connection whose frames stop completing
// (a dropped run leaves one unfinished) is declared lost within 1.5 s, long
// enough that a frame sent one byte at a time under TSan arrives within it.
constexpr absl::Duration kKeepaliveInterval = absl::Milliseconds(300);
constexpr absl::Duration kKeepaliveTimeout = absl::Milliseconds(1200);
constexpr absl::Duration kHandshakeTimeout = absl::Seconds(2);
// Every receive and call waits at most this long. Far beyond the keepalive:
// reaching it means a broken connection went unnoticed (a stall).
constexpr absl::Duration kWaitLimit = absl::Seconds(10);
// A run whose blocking calls have not all returned by then is a hang.
constexpr absl::Duration kRunLimit = absl::Seconds(40);

BridgeOptions TestBridgeOptions() {
  BridgeOptions options;
  options.fragment_bytes = 4096;  // Messages of a few KiB take several frames.
  options.keepalive_interval = kKeepaliveInterval;
  options.keepalive_timeout = kKeepaliveTimeout;
  return options;
}

// ---- The traffic ----------------------------------------------------------

constexpr int kMessages = 10;
// Sizes of message i: empty to several frames; even ones are random bytes
// (incompressible), odd ones a pattern (lz4 shrinks those of 1 KiB+).
constexpr size_t kSizes[kMessages] = {0,   1,    60, 1500, 9000,
                                      300, 5000, 20, 2100, 64};

std::string Payload(uint64_t seed, int direction, int i) {
  std::string bytes(kSizes[i % kMessages], '\0');
  std::mt19937_64 rng(seed * 1000 + static_cast<uint64_t>(direction * 100 + i));
  for (size_t j = 0; j < bytes.size(); ++j) {
    bytes[j] = i % 2 == 0 ? static_cast<char>(rng())
                          : static_cast<char>('a' + (j * 7 + i) % 23);
  }
  return bytes;
}

Value MessageValue(uint64_t seed, int direction, int i) {
  return MakeTuple({MakeInt(i), MakeBytes(Payload(seed, direction, i))});
}

// What one run produced.
struct RunResult {
  bool delivered = false;
  bool fault_reached = false;  // Set by RunOnce.
  absl::Status status;         // The first error reported; OK if none.
  std::string sides;           // Bridge runs: each side's end.
  // Wrong values, undocumented errors, stalls: each fails the test.
  std::vector<std::string> problems;
};

// Checks an error a side reported: one the docs give for a connection that
// the network broke (docs/DESIGN.md "Errors", docs/PROTOCOL.md 3 and 7).
// `linking`: the connect and handshake (whose own timeout is documented).
void CheckError(const std::string& where, const absl::Status& s, bool linking,
                RunResult* result) {
  if (s.ok()) return;
  if (result->status.ok()) result->status = s;
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:      // lost, closed, keepalive
    case absl::StatusCode::kDataLoss:         // forged, replayed, truncated
    case absl::StatusCode::kUnauthenticated:  // a corrupt handshake's proofs
    // A corrupt length prefix over max_frame_bytes (PROTOCOL.md 3).
    case absl::StatusCode::kResourceExhausted:
      return;
    case absl::StatusCode::kInvalidArgument:
      // The server's refusal of a corrupt handshake (PROTOCOL.md 7.7).
      if (absl::StrContains(s.message(), "malformed handshake")) return;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      if (linking) return;  // The handshake timeout.
      result->problems.push_back(
          absl::StrCat(where,
                       " stalled until its own deadline (the broken connection "
                       "went unnoticed): ",
                       s.ToString()));
      return;
    default:
      break;
  }
  result->problems.push_back(
      absl::StrCat(where, ": undocumented error ", s.ToString()));
}

// One side of the Bridge exchange: sends its kMessages values (from a
// second thread) while it receives and checks the peer's, in order.
struct Side {
  int received = 0;
  absl::Status status;  // The first error (receiving, else sending).
  std::string wrong;
};

void Exchange(Bridge& bridge, uint64_t seed, int out_direction, Side* side) {
  absl::Status sent;
  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i) {
      absl::Status s = bridge.SendBuffer(MessageValue(seed, out_direction, i));
      if (!s.ok()) {
        sent = DetachedStatus(s);
        return;
      }
    }
  });
  RecvOptions recv;
  recv.timeout = kWaitLimit;
  for (int i = 0; i < kMessages; ++i) {
    absl::StatusOr<Value> v = bridge.RecvBuffer(recv);
    if (!v.ok()) {
      side->status = DetachedStatus(v.status());
      break;
    }
    if (!ValuesEqual(*v, MessageValue(seed, 1 - out_direction, i))) {
      side->wrong =
          absl::StrCat("message ", i, " is wrong: ", Repr(*v).substr(0, 120));
      break;
    }
    ++side->received;
  }
  if (!side->wrong.empty() ||
      side->status.code() == absl::StatusCode::kDeadlineExceeded) {
    // Frees a sender blocked on a connection that went unnoticed.
    bridge.Abort(absl::CancelledError("the test gave up on this connection"));
  }
  sender.join();
  if (side->status.ok()) side->status = sent;
}

LinkOptions TestLinkOptions(const transport::FernetKey& key) {
  LinkOptions options;
  options.key = key;
  options.connect_timeout = kHandshakeTimeout;
  options.handshake_timeout = kHandshakeTimeout;
  options.bridge = TestBridgeOptions();
  return options;
}

RunResult RunBridge(Server& server, const std::string& address,
                    const transport::FernetKey& key, uint64_t seed) {
  RunResult result;
  std::atomic<bool> client_done{false};
  Side server_side;
  bool server_linked = false;
  std::thread server_thread([&] {
    std::shared_ptr<Bridge> session;
    while (session == nullptr && !client_done.load()) {
      absl::StatusOr<std::shared_ptr<Bridge>> s =
          server.Accept(absl::Milliseconds(20));
      if (s.ok()) session = *s;
    }
    if (session == nullptr) return;
    server_linked = true;
    Exchange(*session, seed, 1, &server_side);
  });
  Side client_side;
  absl::StatusOr<std::shared_ptr<Bridge>> bridge =
      Bridge::Link(address, TestLinkOptions(key));
  if (bridge.ok()) {
    Exchange(**bridge, seed, 0, &client_side);
  }
  client_done = true;
  server_thread.join();
  if (!bridge.ok()) {
    CheckError("Link", bridge.status(), true, &result);
    return result;
  }
  bridge->reset();  // Only now: the server may still be receiving.
  CheckError("client", client_side.status, false, &result);
  if (server_linked) CheckError("server", server_side.status, false, &result);
  result.sides = absl::StrCat(
      "client ", absl::StatusCodeToString(client_side.status.code()),
      ", server ",
      server_linked ? absl::StatusCodeToString(server_side.status.code())
                    : "no session");
  for (const std::string* wrong : {&client_side.wrong, &server_side.wrong}) {
    if (!wrong->empty()) result.problems.push_back(*wrong);
  }
  result.delivered =
      client_side.received == kMessages && server_side.received == kMessages;
  return result;
}

// ---- RPC calls ------------------------------------------------------------

CallOptions TestCallOptions() {
  CallOptions options;
  options.timeout = kWaitLimit;
  return options;
}

EchoRequest Request(uint64_t seed, int i) {
  EchoRequest request;
  request.set_text(absl::StrCat("request ", i));
  request.set_n(i);
  request.set_payload(Payload(seed, 0, i));
  return request;
}

// `reply` echoes request i.
bool Echoes(const EchoReply& reply, uint64_t seed, int i) {
  return reply.text() == absl::StrCat("request ", i) && reply.n() == i &&
         reply.payload() == Payload(seed, 0, i);
}

// Unary calls, a server stream (Range), a bidi stream (Chat) and a client
// stream (Sum) on one channel; each call either returns exactly the right
// values or a documented error.
RunResult RunRpc(const std::string& address, const transport::FernetKey& key,
                 uint64_t seed) {
  RunResult result;
  ChannelOptions channel_options;
  channel_options.link = TestLinkOptions(key);
  absl::StatusOr<std::shared_ptr<Channel>> channel =
      Channel::Create(address, channel_options);
  if (!channel.ok()) {
    CheckError("Channel::Create", channel.status(), true, &result);
    return result;
  }
  Echo::Stub stub(*channel);
  int ok_calls = 0;
  auto call_ended = [&](const char* call, const absl::Status& s) {
    if (s.ok()) ++ok_calls;
    CheckError(call, s, false, &result);
  };

  for (int i = 0; i < 4; ++i) {
    const EchoRequest request = Request(seed, i * 3);
    absl::StatusOr<EchoReply> reply = stub.Unary(request, TestCallOptions());
    if (reply.ok() && !Echoes(*reply, seed, i * 3)) {
      result.problems.push_back(absl::StrCat("Unary ", i, ": wrong reply"));
    }
    call_ended("Unary", reply.status());
  }

  {
    constexpr int kReplies = 12;
    EchoRequest request = Request(seed, 8);
    request.set_count(kReplies);
    std::unique_ptr<ClientReader<EchoReply>> range =
        stub.Range(request, TestCallOptions());
    EchoReply reply;
    int n = 0;
    absl::StatusOr<bool> more;
    while ((more = range->Read(&reply)).ok() && *more) {
      if (reply.n() != n || reply.payload() != request.payload()) {
        result.problems.push_back(absl::StrCat("Range reply ", n, " is wrong"));
        break;
      }
      ++n;
    }
    absl::Status s = more.ok() ? range->Finish() : more.status();
    if (s.ok() && n != kReplies) {
      result.problems.push_back(absl::StrCat("Range: ", n, " replies"));
    }
    call_ended("Range", s);
  }

  {
    auto chat = stub.Chat(TestCallOptions());
    absl::Status written;
    std::thread writer([&] {
      for (int i = 0; i < kMessages; ++i) {
        absl::Status s = chat->Write(Request(seed, i));
        if (!s.ok()) {
          written = DetachedStatus(s);
          return;
        }
      }
      written = DetachedStatus(chat->WritesDone());
    });
    EchoReply reply;
    int n = 0;
    absl::StatusOr<bool> more;
    while ((more = chat->Read(&reply)).ok() && *more) {
      if (!Echoes(reply, seed, n)) {
        result.problems.push_back(absl::StrCat("Chat reply ", n, " is wrong"));
        chat->Cancel();
        break;
      }
      ++n;
    }
    writer.join();
    absl::Status s = more.ok() ? chat->Finish() : more.status();
    if (s.ok() && (n != kMessages || !written.ok())) {
      result.problems.push_back(
          absl::StrCat("Chat: ", n, " replies, writes ", written.ToString()));
    }
    call_ended("Chat", s);
  }

  {
    auto sum = stub.Sum(TestCallOptions());
    absl::Status s;
    for (int i = 0; i < kMessages && s.ok(); ++i) {
      s = sum->Write(Request(seed, i));
    }
    absl::StatusOr<EchoReply> total = sum->Finish();
    if (s.ok()) s = total.status();
    if (s.ok() && (total->n() != kMessages * (kMessages - 1) / 2 ||
                   total->text() != absl::StrCat(kMessages))) {
      result.problems.push_back("Sum: wrong total");
    }
    call_ended("Sum", s);
  }
  result.delivered = ok_calls == 7 && result.problems.empty();
  return result;
}

// ---- Plans and the driver -------------------------------------------------

uint64_t BaseSeed() {
  uint64_t seed = 1;
  if (const char* env = std::getenv("FAULT_SEED"); env != nullptr) {
    EXPECT_TRUE(absl::SimpleAtoi(env, &seed)) << "FAULT_SEED=" << env;
  }
  return seed;
}

struct Plan {
  ByteFaults c2s;
  ByteFaults s2c;
  std::string ToString() const {
    std::vector<std::string> parts;
    if (c2s.kind != ByteFaults::Kind::kNone || c2s.max_chunk > 0) {
      parts.push_back("c2s " + c2s.ToString());
    }
    if (s2c.kind != ByteFaults::Kind::kNone || s2c.max_chunk > 0) {
      parts.push_back("s2c " + s2c.ToString());
    }
    return absl::StrJoin(parts, "; ");
  }
};

// Run `index` (0..kSeedsPerFault-1) of `fault`. The destructive faults
// alternate direction, and every third falls within the first 256 bytes
// (the handshake and the first frames); the others anywhere in the bytes
// a clean run of the same traffic sent (`c2s_bytes`, `s2c_bytes`).
Plan MakePlan(Fault fault, int index, uint64_t seed, uint64_t c2s_bytes,
              uint64_t s2c_bytes) {
  std::mt19937_64 rng(seed);
  auto pick = [&rng](uint64_t n) {
    return std::uniform_int_distribution<uint64_t>(
        0, std::max<uint64_t>(n, 1) - 1)(rng);
  };
  Plan plan;
  plan.c2s.seed = seed;
  plan.s2c.seed = seed;
  switch (fault) {
    case Fault::kSplit: {
      constexpr size_t kMaxChunks[] = {1, 3, 16, 100, 1000};
      plan.c2s.max_chunk = plan.s2c.max_chunk = kMaxChunks[index % 5];
      return plan;
    }
    case Fault::kDelay:
      // Chunks of up to a few frames, each late: receivers see partial
      // frames and pauses. Throughput stays above ~250 KiB/s so that a
      // PING queued behind the data in flight is answered well within the
      // test's short keepalive (at a few KiB/s the keepalive would rightly
      // declare the peer lost: its answer waits behind the backlog).
      plan.c2s.max_chunk = plan.s2c.max_chunk = 512 + pick(3584);
      plan.c2s.max_delay = plan.s2c.max_delay =
          absl::Microseconds(100 + static_cast<int64_t>(pick(900)));
      return plan;
    default:
      break;
  }
  const bool up = index % 2 == 0;
  ByteFaults& f = up ? plan.c2s : plan.s2c;
  const bool early = index % 3 == 0;
  f.at = pick(early ? 256 : (up ? c2s_bytes : s2c_bytes));
  switch (fault) {
    case Fault::kDuplicate:
      f.kind = ByteFaults::Kind::kDuplicate;
      f.length = 1 + pick(160);
      break;
    case Fault::kDrop:
      f.kind = ByteFaults::Kind::kDrop;
      f.length = 1 + pick(160);
      break;
    case Fault::kFlip:
      f.kind = ByteFaults::Kind::kFlip;
      break;
    default:
      f.kind = ByteFaults::Kind::kCut;
      break;
  }
  return plan;
}

// Outcome counts of one fault kind.
struct Tally {
  int delivered = 0;
  int not_reached = 0;  // Delivered because the traffic ended before the fault.
  std::map<std::string, int> failed;  // By status code.
  std::string ToString() const {
    std::string out = absl::StrCat(delivered, " delivered");
    if (not_reached > 0) {
      absl::StrAppend(&out, " (", not_reached, " fault not reached)");
    }
    int total = 0;
    for (const auto& [code, n] : failed) total += n;
    if (total > 0) {
      absl::StrAppend(&out, ", ", total, " failed (",
                      absl::StrJoin(failed, ", ", absl::PairFormatter(" ")),
                      ")");
    }
    return out;
  }
};

using Traffic =
    std::function<RunResult(Server& server, const std::string& address)>;

// A fresh server (Echo service, sessions queued for Accept) per run.
class FaultInjection : public ::testing::Test {
 protected:
  std::unique_ptr<Server> StartServer() {
    ServerOptions options;
    options.keys = {key_};
    options.bridge = TestBridgeOptions();
    options.policy.handshake_timeout = kHandshakeTimeout;
    auto server = std::make_unique<Server>("127.0.0.1:0", options);
    EXPECT_TRUE(server->RegisterService(&service_).ok());
    EXPECT_TRUE(server->Init().ok());
    EXPECT_TRUE(server->ListenOn([](Server&) {}).ok());
    return server;
  }

  // One run of `traffic` through a proxy with `plan`, under a watchdog.
  RunResult RunOnce(const std::string& name, const Plan& plan,
                    const Traffic& traffic, uint64_t* c2s_bytes = nullptr,
                    uint64_t* s2c_bytes = nullptr) {
    Watchdog watchdog(absl::StrCat(name, " [", plan.ToString(), "]"),
                      kRunLimit);
    std::unique_ptr<Server> server = StartServer();
    absl::StatusOr<std::unique_ptr<TcpProxy>> proxy =
        TcpProxy::Start(server->address(), plan.c2s, plan.s2c);
    EXPECT_TRUE(proxy.ok()) << proxy.status();
    if (!proxy.ok()) return RunResult();
    const absl::Time start = absl::Now();
    RunResult result = traffic(*server, (*proxy)->address());
    const absl::Duration took = absl::Now() - start;
    result.fault_reached =
        (*proxy)->fault_fired(true) || (*proxy)->fault_fired(false);
    const bool faulty = plan.c2s.kind != ByteFaults::Kind::kNone ||
                        plan.s2c.kind != ByteFaults::Kind::kNone;
    if (c2s_bytes != nullptr) *c2s_bytes = (*proxy)->bytes_read(true);
    if (s2c_bytes != nullptr) *s2c_bytes = (*proxy)->bytes_read(false);
    proxy->reset();
    server->Shutdown(absl::Milliseconds(500));
    std::string outcome =
        result.delivered ? "delivered" : result.status.ToString();
    if (!result.delivered && !result.sides.empty()) {
      absl::StrAppend(&outcome, " (", result.sides, ")");
    }
    std::printf(
        "%-24s %-62s -> %s%s [%s]\n", name.c_str(), plan.ToString().c_str(),
        outcome.c_str(),
        faulty && !result.fault_reached ? " (fault not reached)" : "",
        absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1))).c_str());
    std::fflush(stdout);
    return result;
  }

  void RunAll(const std::string& traffic_name, const Traffic& traffic) {
    // A clean run measures how many bytes the traffic sends each way.
    uint64_t c2s_bytes = 0;
    uint64_t s2c_bytes = 0;
    RunResult clean = RunOnce(traffic_name + " clean", Plan(), traffic,
                              &c2s_bytes, &s2c_bytes);
    ASSERT_TRUE(clean.delivered) << clean.status;
    ASSERT_TRUE(clean.problems.empty()) << absl::StrJoin(clean.problems, "\n");
    const uint64_t base = BaseSeed();
    std::vector<std::pair<Fault, Tally>> tallies;
    for (Fault fault : kFaults) {
      Tally tally;
      for (int i = 0; i < kSeedsPerFault; ++i) {
        const uint64_t seed =
            base * 1000 + static_cast<uint64_t>(fault) * 100 + i;
        const Plan plan = MakePlan(fault, i, seed, c2s_bytes, s2c_bytes);
        const std::string name =
            absl::StrCat(traffic_name, " ", FaultName(fault), " #", i);
        const RunResult r = RunOnce(name, plan, traffic);
        const bool byte_fault =
            fault != Fault::kSplit && fault != Fault::kDelay;
        if (r.delivered) {
          ++tally.delivered;
          if (byte_fault && !r.fault_reached) ++tally.not_reached;
        } else {
          ++tally.failed[absl::StatusCodeToString(r.status.code())];
        }
        EXPECT_TRUE(r.problems.empty())
            << name << " [" << plan.ToString() << "]:\n"
            << absl::StrJoin(r.problems, "\n");
        if (!byte_fault) {
          EXPECT_TRUE(r.delivered) << name << " [" << plan.ToString()
                                   << "] must deliver: " << r.status;
        }
      }
      tallies.emplace_back(fault, tally);
    }
    std::printf("\n%s outcomes (FAULT_SEED=%llu):\n", traffic_name.c_str(),
                static_cast<unsigned long long>(base));
    for (const auto& [fault, tally] : tallies) {
      std::printf("  %-10s %s\n", FaultName(fault), tally.ToString().c_str());
    }
    std::printf("\n");
  }

  transport::FernetKey key_ = transport::FernetKey::Generate().value();
  EchoService service_;
};

TEST_F(FaultInjection, BridgeMessagesArriveIntactOrFailWithADocumentedError) {
  RunAll("bridge", [this](Server& server, const std::string& address) {
    return RunBridge(server, address, key_, BaseSeed());
  });
}

TEST_F(FaultInjection, RpcCallsReturnTheRightValuesOrFailWithADocumentedError) {
  RunAll("rpc", [this](Server&, const std::string& address) {
    return RunRpc(address, key_, BaseSeed());
  });
}

// A length prefix made 64 KiB longer (still under max_frame_bytes): the
// server waits for bytes that will never make a frame. The keepalive must
// see through it: PINGs and their answers that vanish into the unfinished
// frame are no sign of life, so both sides give up within the keepalive,
// not whenever enough PING traffic has filled the 64 KiB.
TEST_F(FaultInjection, AFrameThatNeverCompletesDoesNotKeepTheConnectionAlive) {
  Watchdog watchdog("the never-completing frame test", kRunLimit);
  std::unique_ptr<Server> server = StartServer();
  absl::StatusOr<std::unique_ptr<TcpProxy>> proxy = TcpProxy::Start(
      server->address(), [](int index, const std::string& frame) {
        std::string out = frame;
        if (index == 2) out[1] = static_cast<char>(out[1] + 1);  // +64 KiB
        return out;
      });
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  absl::StatusOr<std::shared_ptr<Bridge>> client =
      Bridge::Link((*proxy)->address(), TestLinkOptions(key_));
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::shared_ptr<Bridge>> session = server->Accept(kWaitLimit);
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*client)->SendBuffer(MakeInt(1)).ok());  // Frame 2.
  RecvOptions recv;
  recv.timeout = kWaitLimit;
  const absl::Time start = absl::Now();
  absl::Status server_end = (*session)->RecvBuffer(recv).status();
  absl::Status client_end = (*client)->RecvBuffer(recv).status();
  std::printf("never-completing frame: server %s, client %s, after %s\n",
              server_end.ToString().c_str(), client_end.ToString().c_str(),
              absl::FormatDuration(absl::Now() - start).c_str());
  for (const absl::Status& s : {server_end, client_end}) {
    EXPECT_TRUE(s.code() == absl::StatusCode::kUnavailable ||
                s.code() == absl::StatusCode::kDataLoss)
        << s;
  }
}

}  // namespace
}  // namespace netstructer
