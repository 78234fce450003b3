// Hostile peers against a real Server: slowloris dribblers (of the handshake
// and of a frame after it), a connection flood past every cap of the accept
// policy, half-open peers (silent, or never reading while the server has
// Bridge messages and a server stream for them), and a server at its
// descriptor limit (a child process under a small RLIMIT_NOFILE).
//
// Every case checks the same three things: the hostile peers get exactly
// what the docs promise (a REFUSAL with its reason, or the close at the
// documented timeout, with its status); established sessions (Bridge
// buffers and RPC calls) keep their normal latency meanwhile; and what the
// peers held is freed afterwards (sessions, admission slots, descriptors).
// Every wait has a deadline; time is only ever waited for by polling.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/proto/value.h"
#include "netstructer/rpc/call_wire.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/child_process.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/tests/testing/raw_peer.h"
#include "netstructer/tests/testing/subprocess.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/handshake_crypto.h"
#include "netstructer/transport/handshake_format.h"
#include "netstructer/transport/handshake_io.h"
#include "netstructer/transport/handshake_messages.h"
#include "netstructer/transport/mutex.h"
#include "netstructer/transport/socket.h"
#include "rpc/rpc.pb.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer {
namespace {

using ::netstructer::testing::ChildProcess;
using ::netstructer::testing::OpenFdCount;
using ::netstructer::testing::PollUntil;
using ::netstructer::testing::RawPeer;
using ::testing::HasSubstr;
using transport::FernetKey;
using transport::FrameType;

// ---- Measuring ------------------------------------------------------------

// Open descriptors of another process (OpenFdCount counts this one's).
int FdCountOf(const std::string& pid) {
  std::error_code error;
  std::filesystem::directory_iterator fds("/proc/" + pid + "/fd", error);
  return error ? -1 : static_cast<int>(std::distance(fds, {}));
}

// CPU time (user + system) of process `pid` so far.
absl::Duration CpuTime(const std::string& pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  // Fields after the command name (which may hold spaces): state is field 3,
  // utime and stime fields 14 and 15.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return absl::ZeroDuration();
  std::vector<std::string> f = absl::StrSplit(stat.substr(paren + 2), ' ');
  int64_t utime = 0, stime = 0;
  if (f.size() < 13 || !absl::SimpleAtoi(f[11], &utime) ||
      !absl::SimpleAtoi(f[12], &stime)) {
    return absl::ZeroDuration();
  }
  return absl::Seconds(static_cast<double>(utime + stime) /
                       sysconf(_SC_CLK_TCK));
}

// Context switches of each thread of process `pid` so far, by thread id:
// each time the thread went to sleep or was preempted, so a loop that wakes
// up for nothing shows here even when each wake-up costs little CPU.
std::map<std::string, int64_t> Wakeups(const std::string& pid) {
  std::map<std::string, int64_t> by_thread;
  std::error_code error;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + pid + "/task", error)) {
    const std::string tid = task.path().filename();
    std::ifstream in(task.path() / "status");
    std::string line;
    while (std::getline(in, line)) {
      int64_t n = 0;
      if ((absl::StartsWith(line, "voluntary_ctxt_switches:") ||
           absl::StartsWith(line, "nonvoluntary_ctxt_switches:")) &&
          absl::SimpleAtoi(
              absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)),
              &n)) {
        by_thread[tid] += n;
      }
    }
  }
  return by_thread;
}

// The most context switches one thread made between two Wakeups().
int64_t BusiestThread(const std::map<std::string, int64_t>& before,
                      const std::map<std::string, int64_t>& after) {
  int64_t most = 0;
  for (const auto& [tid, n] : after) {
    auto it = before.find(tid);
    most = std::max(most, n - (it == before.end() ? 0 : it->second));
  }
  return most;
}

// The kernel's largest TCP send buffer: what a server socket may hold
// besides what the Bridge queues.
int64_t TcpWmemMax() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_wmem");
  int64_t min = 0, def = 0, max = 4 << 20;
  in >> min >> def >> max;
  return max;
}

std::string RandomBytes(size_t n) {
  std::mt19937 gen(12345);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(gen());
  return out;  // Incompressible: lz4 does not shrink what the tests queue.
}

std::string Ms(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d), " ms");
}

// ---- Established sessions under watch -------------------------------------

// A Bridge and an RPC channel from `ip` that keep working while hostile
// peers do their worst: a thread makes round trips on both (a Bridge buffer
// echoed by the server side, an Echo.Unary call) until Stop() and reports
// their latencies. The Bridge's server side echoes in a thread here when
// `server` is in this process; the child server echoes by itself.
class Probe {
 public:
  struct Report {
    int rounds = 0;
    absl::Duration bridge_p50, bridge_max, rpc_p50, rpc_max;
    std::string error;  // The first failure, if any.

    std::string ToString() const {
      return absl::StrCat(rounds, " round trips, Bridge p50 ", Ms(bridge_p50),
                          " max ", Ms(bridge_max), ", RPC p50 ", Ms(rpc_p50),
                          " max ", Ms(rpc_max));
    }
  };

  Probe(const std::string& address, const FernetKey& key, const std::string& ip,
        Server* server) {
    LinkOptions link;
    link.key = key;
    link.local_address = ip + ":0";
    absl::StatusOr<std::shared_ptr<Bridge>> bridge =
        Bridge::Link(address, link);
    EXPECT_TRUE(bridge.ok()) << bridge.status();
    if (!bridge.ok()) return;
    link_ = *std::move(bridge);
    if (server != nullptr) {
      EXPECT_TRUE(PollUntil([&] { return server->Get(ip) != nullptr; },
                            absl::Seconds(10)));
      echo_thread_ = std::thread([this, session = server->Get(ip)] {
        RecvOptions o;
        o.timeout = absl::Milliseconds(100);
        while (session != nullptr && !stop_.load()) {
          absl::StatusOr<Value> v = session->RecvBuffer(o);
          if (v.ok()) {
            if (!session->SendBuffer(*v).ok()) return;
          } else if (v.status().code() != absl::StatusCode::kDeadlineExceeded) {
            return;
          }
        }
      });
    }
    ChannelOptions channel_options;
    channel_options.link = link;
    absl::StatusOr<std::shared_ptr<Channel>> channel =
        Channel::Create(address, channel_options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return;
    channel_ = *std::move(channel);
    stub_ = std::make_unique<test::rpc::Echo::Stub>(channel_);
    thread_ = std::thread([this] { Run(); });
  }

  ~Probe() { (void)Stop(); }

  // Round trips made so far.
  int rounds() const { return rounds_.load(); }

  // Stops the round trips; their figures so far.
  Report Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    if (echo_thread_.joinable()) echo_thread_.join();
    MutexLock lock(&mu_);
    Report r;
    r.rounds = static_cast<int>(rpc_latencies_.size());
    r.error = error_;
    auto stats = [](std::vector<absl::Duration> v, absl::Duration* p50,
                    absl::Duration* max) {
      if (v.empty()) return;
      std::sort(v.begin(), v.end());
      *p50 = v[v.size() / 2];
      *max = v.back();
    };
    stats(bridge_latencies_, &r.bridge_p50, &r.bridge_max);
    stats(rpc_latencies_, &r.rpc_p50, &r.rpc_max);
    return r;
  }

  // Normal latency: no failure, and no round trip anywhere near a stall
  // (the stalls looked for last a second or more; a round trip on loopback
  // takes well under a millisecond, a few under the sanitizers).
  static void ExpectHealthy(const Report& r) {
    EXPECT_EQ(r.error, "");
    EXPECT_GE(r.rounds, 5) << r.ToString();
    EXPECT_LT(r.bridge_max, absl::Milliseconds(750)) << r.ToString();
    EXPECT_LT(r.rpc_max, absl::Milliseconds(750)) << r.ToString();
    EXPECT_LT(r.rpc_p50, absl::Milliseconds(50)) << r.ToString();
  }

 private:
  void Run() {
    RecvOptions within;
    within.timeout = absl::Seconds(5);
    CallOptions call;
    call.timeout = absl::Seconds(5);
    for (int64_t i = 0; !stop_.load(); ++i) {
      absl::Time start = absl::Now();
      std::string error;
      if (absl::Status s = link_->SendBuffer(MakeInt(i)); !s.ok()) {
        error = absl::StrCat("Bridge send: ", s.ToString());
      } else if (absl::StatusOr<Value> v = link_->RecvBuffer(within); !v.ok()) {
        error = absl::StrCat("Bridge receive: ", v.status().ToString());
      } else if (v->int_value() != i) {
        error = "Bridge: the wrong value came back";
      }
      const absl::Duration bridge = absl::Now() - start;
      start = absl::Now();
      test::rpc::EchoRequest request;
      request.set_n(i);
      absl::StatusOr<test::rpc::EchoReply> reply = stub_->Unary(request, call);
      if (error.empty() && !reply.ok()) {
        error = absl::StrCat("RPC: ", reply.status().ToString());
      } else if (error.empty() && reply->n() != i) {
        error = "RPC: the wrong reply";
      }
      const absl::Duration rpc = absl::Now() - start;
      {
        MutexLock lock(&mu_);
        bridge_latencies_.push_back(bridge);
        rpc_latencies_.push_back(rpc);
        if (!error.empty() && error_.empty()) error_ = error;
      }
      rounds_.fetch_add(1);
      if (!error.empty()) return;
      absl::SleepFor(absl::Milliseconds(10));
    }
  }

  std::shared_ptr<Bridge> link_;
  std::shared_ptr<Channel> channel_;
  std::unique_ptr<test::rpc::Echo::Stub> stub_;
  std::atomic<bool> stop_{false};
  std::atomic<int> rounds_{0};
  std::thread thread_;
  std::thread echo_thread_;
  Mutex mu_;
  std::vector<absl::Duration> bridge_latencies_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> rpc_latencies_ ABSL_GUARDED_BY(mu_);
  std::string error_ ABSL_GUARDED_BY(mu_);
};

// ---- The server under attack ----------------------------------------------

// The probe's source address; hostile peers use others, so that their
// sessions can be found by IP and the caps are counted apart.
constexpr char kProbeIp[] = "127.0.0.9";

class HostilePeerTest : public ::testing::Test {
 protected:
  // A Server with the Echo service and the key, then the probe. The
  // descriptor baseline is taken with both running.
  void Start(ServerOptions options) {
    options.keys = {key_};
    server_ = std::make_unique<Server>("127.0.0.1:0", options);
    ASSERT_TRUE(server_->RegisterService(&echo_).ok());
    ASSERT_TRUE(server_->Init().ok());
    ASSERT_TRUE(server_->Listen().ok());
    probe_ = std::make_unique<Probe>(server_->address(), key_, kProbeIp,
                                     server_.get());
    ASSERT_TRUE(
        PollUntil([&] { return server_->Count() == 2; }, absl::Seconds(10)));
    baseline_fds_ = OpenFdCount();
  }

  void TearDown() override {
    probe_.reset();
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
  }

  // A raw peer from `ip` that completed the handshake and whose session the
  // server holds (found as the newest session of `ip`).
  std::unique_ptr<RawPeer> Authenticated(const std::string& ip, int rcvbuf,
                                         std::shared_ptr<Bridge>* session) {
    std::unique_ptr<RawPeer> peer =
        RawPeer::Connect(server_->address(), ip, rcvbuf);
    EXPECT_NE(peer, nullptr);
    if (peer == nullptr) return nullptr;
    const size_t before = server_->GetAll(ip).size();
    absl::Status s = peer->Handshake(key_, absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(PollUntil([&] { return server_->GetAll(ip).size() > before; },
                          absl::Seconds(10)));
    if (session != nullptr && server_->GetAll(ip).size() > before) {
      *session = server_->GetAll(ip).back();
    }
    return peer;
  }

  // What the hostile peers held is freed (within 10 s): the server is back
  // to the probe's two sessions, and this process to its baseline of
  // descriptors plus `held` (sockets the test itself still holds).
  void ExpectFreed(int held) {
    EXPECT_TRUE(
        PollUntil([&] { return server_->Count() == 2; }, absl::Seconds(10)))
        << server_->Count() << " sessions";
    EXPECT_TRUE(PollUntil([&] { return OpenFdCount() == baseline_fds_ + held; },
                          absl::Seconds(10)))
        << OpenFdCount() << " descriptors, baseline " << baseline_fds_ << " + "
        << held;
  }

  // APeerThatSendsButNeverReads...: see there.
  void SendsButNeverReads(bool reading_stream);

  FernetKey key_ = FernetKey::Generate().value();
  test::EchoService echo_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Probe> probe_;
  int baseline_fds_ = 0;
};

// Connections that dribble their ClientHello a byte every 100 ms are closed
// at handshake_timeout; authenticated ones that dribble a frame that never
// completes hold a session until idle_timeout (a dribble is not a message),
// which ends it with GOAWAY UNAVAILABLE "... (idle_timeout)" as
// docs/PROTOCOL.md 8.3 says. Meanwhile the probe's round trips keep their
// latency, and afterwards every descriptor is back.
TEST_F(HostilePeerTest,
       SlowlorisDribblersAreDroppedAtTheirTimeoutsWhileSessionsServe) {
  constexpr int kHandshakeDribblers = 24;
  constexpr int kFrameDribblers = 8;
  const absl::Duration handshake_timeout = absl::Seconds(1);
  const absl::Duration idle_timeout = absl::Milliseconds(1500);
  ServerOptions options;
  options.policy.handshake_timeout = handshake_timeout;
  options.policy.idle_timeout = idle_timeout;
  options.policy.new_connections_per_ip_per_second = 0;
  Start(options);
  if (HasFatalFailure()) return;

  struct Dribbler {
    std::unique_ptr<RawPeer> peer;
    std::string bytes;  // What it dribbles, a byte per tick.
    size_t sent = 0;
    bool authenticated = false;
    absl::Time start;  // Connected, or handshake completed.
    absl::Duration lasted = absl::InfiniteDuration();
  };
  std::vector<Dribbler> dribblers;
  const std::string hello = RawPeer::ClientHelloFrame(key_);
  // 137 bytes (docs/PROTOCOL.md 7.10): at a byte per 100 ms it would take
  // 13.7 s, far past the handshake timeout.
  ASSERT_EQ(hello.size(), 4u + 16u + transport::kClientHelloBytes);
  for (int i = 0; i < kHandshakeDribblers; ++i) {
    Dribbler d;
    d.peer = RawPeer::Connect(server_->address(), "127.0.0.1");
    ASSERT_NE(d.peer, nullptr);
    d.start = absl::Now();
    d.bytes = hello;
    dribblers.push_back(std::move(d));
  }
  // A frame of 4096 bytes announced, and a byte of it now and then.
  const std::string frame_start =
      std::string("\x00\x00\x10\x00", 4) + RandomBytes(4096);
  for (int i = 0; i < kFrameDribblers; ++i) {
    Dribbler d;
    d.peer = Authenticated("127.0.0.2", 0, nullptr);
    ASSERT_NE(d.peer, nullptr);
    d.start = absl::Now();
    d.authenticated = true;
    d.bytes = frame_start;
    dribblers.push_back(std::move(d));
  }
  EXPECT_EQ(server_->Count(), 2u + kFrameDribblers);

  // Dribble until the server has closed every one of them.
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  int open = static_cast<int>(dribblers.size());
  while (open > 0 && absl::Now() < give_up) {
    for (Dribbler& d : dribblers) {
      if (d.lasted != absl::InfiniteDuration()) continue;
      if (d.peer->ReadAvailable() ||
          (d.sent < d.bytes.size() && !d.peer->SendByte(d.bytes[d.sent++]))) {
        d.lasted = absl::Now() - d.start;
        d.peer->ReadAvailable();  // What came before the close (a GOAWAY).
        --open;
      }
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(open, 0) << "dribblers the server never closed";

  absl::Duration hs_min = absl::InfiniteDuration(), hs_max, fr_min = hs_min,
                 fr_max;
  for (Dribbler& d : dribblers) {
    if (d.authenticated) {
      fr_min = std::min(fr_min, d.lasted);
      fr_max = std::max(fr_max, d.lasted);
      // Closed as an idle session: GOAWAY with the reason, then the close.
      absl::Status goaway = d.peer->ReceivedGoAway();
      EXPECT_EQ(goaway.code(), absl::StatusCode::kUnavailable) << goaway;
      EXPECT_THAT(std::string(goaway.message()), HasSubstr("idle_timeout"));
    } else {
      hs_min = std::min(hs_min, d.lasted);
      hs_max = std::max(hs_max, d.lasted);
      EXPECT_LT(d.sent, d.bytes.size());  // Its ClientHello never completed.
    }
  }
  // The timeouts, give or take the closing tick, a dribble tick and a busy
  // machine.
  EXPECT_GE(hs_min, handshake_timeout - absl::Milliseconds(50));
  EXPECT_LT(hs_max, handshake_timeout + absl::Seconds(2));
  EXPECT_GE(fr_min, idle_timeout - absl::Milliseconds(50));
  EXPECT_LT(fr_max, idle_timeout + absl::Seconds(2));

  // The server's descriptors are back while the test still holds its own.
  ExpectFreed(static_cast<int>(dribblers.size()));
  dribblers.clear();
  ExpectFreed(0);
  const Probe::Report report = probe_->Stop();
  std::printf(
      "slowloris: %d handshake dribblers closed after %s-%s "
      "(handshake_timeout %s), %d frame dribblers after %s-%s with GOAWAY "
      "UNAVAILABLE (idle_timeout %s); probe: %s; descriptors back to %d\n",
      kHandshakeDribblers, Ms(hs_min).c_str(), Ms(hs_max).c_str(),
      Ms(handshake_timeout).c_str(), kFrameDribblers, Ms(fr_min).c_str(),
      Ms(fr_max).c_str(), Ms(idle_timeout).c_str(), report.ToString().c_str(),
      baseline_fds_);
  Probe::ExpectHealthy(report);
}

// Opens `n` raw connections from `ip` at once and reads how each ends: the
// REFUSAL's reason for those refused, "admitted" for those the server let
// start a handshake (it closes them at handshake_timeout).
std::map<std::string, int> Flood(const std::string& address,
                                 const std::string& ip, int n) {
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < n; ++i) peers.push_back(RawPeer::Connect(address, ip));
  std::map<std::string, int> outcomes;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (std::unique_ptr<RawPeer>& peer : peers) {
    if (peer == nullptr) {
      ++outcomes["connect failed"];
      continue;
    }
    absl::Status s = peer->ReadRefusal(deadline);
    std::string outcome = s.ToString();
    if (s.code() == absl::StatusCode::kUnavailable) {
      outcome = "admitted";  // Closed without a refusal.
    } else if (s.code() == absl::StatusCode::kResourceExhausted) {
      // The reason without the numbers that vary: its limit.
      for (const char* rule : {"too many new connections",
                               "max_sessions_per_ip", "session limit"}) {
        if (absl::StrContains(s.message(), rule)) outcome = rule;
      }
    }
    ++outcomes[outcome];
  }
  return outcomes;
}

// Refused by the accept policy for capacity: RESOURCE_EXHAUSTED (worth a
// retry later), and the limit in the reason as AcceptPolicy::Admit words it.
void ExpectRefused(const absl::Status& status, absl::string_view reason) {
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(std::string(reason)));
}

std::string Tally(const std::map<std::string, int>& outcomes) {
  std::string out;
  for (const auto& [outcome, n] : outcomes)
    absl::StrAppend(&out, n, " ", outcome, "; ");
  return out;
}

// Past each cap of the accept policy (per IP, rate, total) real clients
// (Bridge::Link, Channel::Create) get RESOURCE_EXHAUSTED with the limit in the
// reason, and a raw flood gets a REFUSAL per connection; established
// sessions keep working; when everyone leaves, the slots, sessions and
// descriptors are all back (the caps admit exactly as many as before).
// A ClientHello seen once gives away its key id (docs/PROTOCOL.md 7.8).
// Hellos with that key id and a forged binder, and replays of the seen hello
// itself, are refused after one HMAC (UNAUTHENTICATED), on the handshake
// loop, while the established sessions keep serving. (Before handshake
// version 2 each cost two X25519 and the key schedule on the sessions'
// loop; tools/bench:handshake_cost has the CPU per hello.)
TEST_F(HostilePeerTest, HellosWithASniffedKeyIdAreRefusedAtMacCostWhileSessionsServe) {
  ServerOptions options;
  options.policy.new_connections_per_ip_per_second = 0;  // Flood freely.
  options.policy.max_sessions_per_ip = 0;
  Start(options);
  if (HasFatalFailure()) return;
  // The hello "seen on the wire": a real client's.
  absl::StatusOr<transport::ClientHandshake> real =
      transport::ClientHandshake::Create(key_);
  ASSERT_TRUE(real.ok());
  const std::string seen = real->client_hello();
  absl::StatusOr<transport::ClientHello> parsed = transport::DecodeClientHello(seen);
  ASSERT_TRUE(parsed.ok());
  const FernetKey not_the_key = FernetKey::Generate().value();
  auto forged = [&](int i) {
    transport::ClientHello hello = *parsed;
    hello.nonce[0] = static_cast<uint8_t>(i);
    hello.nonce[1] = static_cast<uint8_t>(i >> 8);
    return transport::EncodeBoundClientHello(
               hello, transport::BinderKeyOf(not_the_key).value())
        .value();
  };
  auto frame = [](const std::string& payload) {
    transport::FrameSealer plain = transport::FrameSealer::Insecure();
    std::string wire;
    (void)plain.Seal(transport::kConnectionStreamId, FrameType::kHandshake, 0,
                     payload, false, 0, &wire);
    return wire;
  };
  // The seen hello is accepted once (its owner's handshake) ...
  std::unique_ptr<RawPeer> owner = RawPeer::Connect(server_->address(), "127.0.0.3");
  ASSERT_NE(owner, nullptr);
  ASSERT_TRUE(owner->SendRaw(frame(seen), absl::Now() + absl::Seconds(10)).ok());
  absl::StatusOr<std::string> server_hello =
      transport::ReadOneFrame(owner->fd(), absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(server_hello.ok()) << server_hello.status();

  // Batches of 50 for a second or 4,000 hellos, whichever comes first:
  // enough for the probe to make its round trips meanwhile, few enough that
  // the test's connections stay far from the ephemeral port range.
  constexpr int kBatch = 50;
  std::map<std::string, int> outcomes;
  const absl::Time start = absl::Now();
  int sent = 0;
  for (int first = 0; first < 4000 && absl::Now() - start < absl::Seconds(1);
       first += kBatch) {
    sent += kBatch;
    std::vector<std::unique_ptr<RawPeer>> batch;
    for (int i = first; i < first + kBatch; ++i) {
      std::unique_ptr<RawPeer> peer = RawPeer::Connect(server_->address(), "127.0.0.3");
      ASSERT_NE(peer, nullptr);
      // ... every other one of the flood replays it, the rest forge a binder.
      const std::string hello = i % 2 == 0 ? seen : forged(i);
      ASSERT_TRUE(peer->SendRaw(frame(hello), absl::Now() + absl::Seconds(10)).ok());
      batch.push_back(std::move(peer));
    }
    for (std::unique_ptr<RawPeer>& peer : batch) {
      const absl::Status refused = peer->ReadRefusal(absl::Now() + absl::Seconds(10));
      ++outcomes[refused.ToString()];
    }
  }
  const absl::Duration took = absl::Now() - start;
  const Probe::Report report = probe_->Stop();
  EXPECT_EQ(outcomes.size(), 2u) << Tally(outcomes);
  EXPECT_EQ(outcomes["UNAUTHENTICATED: the server did not accept this key"], sent / 2)
      << Tally(outcomes);
  EXPECT_EQ(outcomes["UNAUTHENTICATED: a replayed ClientHello (its nonce was used before)"],
            sent / 2)
      << Tally(outcomes);
  std::printf("hello flood: %d hellos with a sniffed key id (half forged binders, "
              "half replays) refused in %s; probe: %s\n",
              sent, Ms(took).c_str(), report.ToString().c_str());
  Probe::ExpectHealthy(report);
}

TEST_F(HostilePeerTest, ConnectionFloodPastEveryCapIsRefusedAndNothingLeaks) {
  constexpr int kPerIp = 4;
  constexpr int kTotal = 12;
  constexpr int kBurst = 6;
  ServerOptions options;
  options.policy.max_sessions_per_ip = kPerIp;
  options.policy.max_sessions_total = kTotal;
  options.policy.new_connections_per_ip_per_second = 0.01;
  options.policy.new_connection_burst_per_ip = kBurst;
  options.policy.handshake_timeout = absl::Seconds(1);
  Start(options);  // The probe holds 2 of the 12 slots.
  if (HasFatalFailure()) return;
  auto link = [&](const std::string& ip) {
    LinkOptions o;
    o.key = key_;
    o.local_address = ip + ":0";
    return Bridge::Link(server_->address(), o);
  };
  std::vector<std::shared_ptr<Bridge>> clients;

  // Per IP: the fifth session from one address, Bridge or Channel.
  for (int i = 0; i < kPerIp; ++i) {
    absl::StatusOr<std::shared_ptr<Bridge>> c = link("127.0.0.2");
    ASSERT_TRUE(c.ok()) << c.status();
    clients.push_back(*c);
  }
  absl::StatusOr<std::shared_ptr<Bridge>> refused = link("127.0.0.2");
  ExpectRefused(refused.status(),
                "127.0.0.2 already has 4 sessions (max_sessions_per_ip 4)");
  ChannelOptions channel_options;
  channel_options.link.key = key_;
  channel_options.link.local_address = "127.0.0.2:0";
  absl::StatusOr<std::shared_ptr<Channel>> channel =
      Channel::Create(server_->address(), channel_options);
  ExpectRefused(channel.status(), "max_sessions_per_ip");

  // Rate: room under the cap again, but the address used its burst.
  ASSERT_TRUE(clients.back()->Close().ok());
  clients.pop_back();
  ASSERT_TRUE(
      PollUntil([&] { return server_->Count() == 2 + 3; }, absl::Seconds(10)));
  refused = link("127.0.0.2");
  ExpectRefused(refused.status(), "too many new connections from 127.0.0.2");

  // A raw flood from a fresh address: its burst admits the per-IP cap (they
  // then time out in the handshake), two more hit that cap, the rest the
  // rate limit. Each refused connection gets its REFUSAL.
  const std::map<std::string, int> flood1 =
      Flood(server_->address(), "127.0.0.5", 100);
  EXPECT_EQ(flood1, (std::map<std::string, int>{
                        {"admitted", kPerIp},
                        {"max_sessions_per_ip", kBurst - kPerIp},
                        {"too many new connections", 100 - kBurst}}))
      << Tally(flood1);

  // Total: fill the server up from two more addresses.
  for (const char* ip : {"127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.3",
                         "127.0.0.4", "127.0.0.4", "127.0.0.4"}) {
    absl::StatusOr<std::shared_ptr<Bridge>> c = link(ip);
    ASSERT_TRUE(c.ok()) << ip << ": " << c.status();
    clients.push_back(*c);
  }
  ASSERT_TRUE(
      PollUntil([&] { return server_->Count() == kTotal; }, absl::Seconds(10)));
  refused = link("127.0.0.4");
  ExpectRefused(refused.status(), "the server is at its session limit (12)");
  channel_options.link.local_address = "127.0.0.6:0";
  channel = Channel::Create(server_->address(), channel_options);
  ExpectRefused(channel.status(), "session limit");
  // A flood at the total cap: refused by it, then by the rate.
  const std::map<std::string, int> flood2 =
      Flood(server_->address(), "127.0.0.7", 100);
  EXPECT_EQ(flood2, (std::map<std::string, int>{
                        {"session limit", kBurst},
                        {"too many new connections", 100 - kBurst}}))
      << Tally(flood2);

  // The sessions admitted before the floods still carry buffers.
  for (const std::shared_ptr<Bridge>& c : clients) {
    ASSERT_TRUE(c->SendBuffer(MakeStr("still here")).ok());
  }
  for (const char* ip : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
    for (const std::shared_ptr<Bridge>& session : server_->GetAll(ip)) {
      RecvOptions o;
      o.timeout = absl::Seconds(10);
      absl::StatusOr<Value> v = session->RecvBuffer(o);
      ASSERT_TRUE(v.ok()) << ip << ": " << v.status();
      EXPECT_EQ(v->str_value(), "still here");
    }
  }
  const Probe::Report report = probe_->Stop();

  // Everyone leaves: nothing is left behind.
  for (const std::shared_ptr<Bridge>& c : clients) EXPECT_TRUE(c->Close().ok());
  clients.clear();
  ExpectFreed(0);
  // Exactly the free slots are free: 10, from fresh addresses.
  for (int i = 0; i < kTotal - 2; ++i) {
    absl::StatusOr<std::shared_ptr<Bridge>> c =
        link(absl::StrCat("127.0.1.", 1 + i / kPerIp));
    ASSERT_TRUE(c.ok()) << i << ": " << c.status();
    clients.push_back(*c);
  }
  ExpectRefused(link("127.0.1.9").status(),
                "the server is at its session limit (12)");
  for (const std::shared_ptr<Bridge>& c : clients) EXPECT_TRUE(c->Close().ok());
  clients.clear();
  ExpectFreed(0);
  std::printf(
      "flood: per-IP, rate and total caps refused real clients with "
      "RESOURCE_EXHAUSTED; raw flood of 100 below the total cap: %s"
      "raw flood of 100 at the total cap: %s probe: %s\n",
      Tally(flood1).c_str(), Tally(flood2).c_str(), report.ToString().c_str());
  Probe::ExpectHealthy(report);
}

// Pushes buffers of `chunk_bytes` random bytes into `session` on a thread
// until SendBuffer fails, counting the bytes it accepted.
class Pusher {
 public:
  Pusher(std::shared_ptr<Bridge> session, size_t chunk_bytes)
      : session_(std::move(session)), thread_([this, chunk_bytes] {
          const Value chunk = MakeBytes(RandomBytes(chunk_bytes));
          for (;;) {
            absl::Status s = session_->SendBuffer(chunk);
            if (!s.ok()) {
              MutexLock lock(&mu_);
              end_ = DetachedStatus(s);
              return;
            }
            pushed_.fetch_add(static_cast<int64_t>(chunk_bytes));
          }
        }) {}
  // A test that failed before the session ended: end it, so that the
  // blocked SendBuffer returns.
  ~Pusher() {
    if (session_ != nullptr) {
      session_->Abort(absl::CancelledError("the test is over"));
    }
    (void)Join();
  }

  const std::atomic<int64_t>& pushed() const { return pushed_; }

  // How SendBuffer failed in the end; lets go of the session. REQUIRES:
  // the session has ended.
  absl::Status Join() {
    if (thread_.joinable()) thread_.join();
    session_.reset();
    MutexLock lock(&mu_);
    return end_;
  }

 private:
  std::shared_ptr<Bridge> session_;
  std::atomic<int64_t> pushed_{0};
  Mutex mu_;
  absl::Status end_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // Last: it uses the members above.
};

// The kernel's share of what a non-reading peer makes us hold: the server
// socket's send buffer (autotuned up to tcp_wmem's maximum) and the peer's
// receive buffer, with a fragment and a frame's overhead to spare.
int64_t KernelBufferBound(int peer_rcvbuf) {
  return TcpWmemMax() + 4 * int64_t{peer_rcvbuf} + (int64_t{256} << 10);
}

// Half-open peers: one that connects and never sends is closed at
// handshake_timeout; one that completes the handshake and then neither
// reads nor sends, while the server pushes Bridge buffers at it and streams
// Echo.Range replies to it, makes the server hold no more than
// max_queued_send_bytes (Bridge) and the call window (2 MiB, the stream)
// besides the kernel's buffers: the writers block, others are served, and
// the keepalive closes the connection (nothing heard for
// keepalive_interval + keepalive_timeout: UNAVAILABLE, docs/PROTOCOL.md 8.3).
TEST_F(HostilePeerTest,
       HalfOpenPeersAreClosedByTheHandshakeTimeoutAndTheKeepalive) {
  constexpr int kSilent = 10;
  constexpr int kRcvbuf = 4096;
  constexpr size_t kMaxQueued = 256 << 10;
  const absl::Duration handshake_timeout = absl::Seconds(1);
  const absl::Duration keepalive = absl::Milliseconds(1500);  // Each of two.
  ServerOptions options;
  options.policy.handshake_timeout = handshake_timeout;
  options.policy.new_connections_per_ip_per_second = 0;
  options.bridge.keepalive_interval = keepalive;
  options.bridge.keepalive_timeout = keepalive;
  options.bridge.max_queued_send_bytes = kMaxQueued;
  Start(options);
  if (HasFatalFailure()) return;

  std::vector<std::unique_ptr<RawPeer>> silent;
  const absl::Time silent_start = absl::Now();
  for (int i = 0; i < kSilent; ++i) {
    silent.push_back(RawPeer::Connect(server_->address(), "127.0.0.3"));
    ASSERT_NE(silent.back(), nullptr);
  }
  // Bridge buffers for a peer that does not read.
  std::shared_ptr<Bridge> deaf;
  std::unique_ptr<RawPeer> deaf_peer =
      Authenticated("127.0.0.20", kRcvbuf, &deaf);
  ASSERT_NE(deaf, nullptr);
  const absl::Time deaf_start = absl::Now();
  Pusher pusher(deaf, 32 << 10);
  // A server stream for a peer that does not read: Echo.Range, 16 KiB each.
  std::shared_ptr<Bridge> deaf_stream;
  std::unique_ptr<RawPeer> stream_peer =
      Authenticated("127.0.0.21", kRcvbuf, &deaf_stream);
  ASSERT_NE(deaf_stream, nullptr);
  rpc::CallHeaders headers;
  headers.set_method("/netstructer.test.rpc.Echo/Range");
  test::rpc::EchoRequest request;
  request.set_count(1000000);
  request.set_payload(RandomBytes(16 << 10));
  const std::string body = request.SerializeAsString();
  const int finished_before = echo_.finished.load();
  ASSERT_TRUE(
      stream_peer
          ->SendFrame(rpc::kFirstCallStreamId, FrameType::kHeaders,
                      transport::kFlagEndMessage | transport::kFlagEndStream,
                      rpc::EncodePrefixed(headers) +
                          rpc::MessageHeader(body.size()) + body,
                      absl::Now() + absl::Seconds(5))
          .ok());
  const absl::Time stream_start = absl::Now();

  // The silent ones go at the handshake timeout (the first to be seen
  // closed gives the earliest close, the last the latest).
  absl::Duration silent_min = absl::InfiniteDuration(), silent_max;
  for (std::unique_ptr<RawPeer>& peer : silent) {
    ASSERT_TRUE(peer->ReadUntilClosed(silent_start + absl::Seconds(10)));
    silent_min = std::min(silent_min, absl::Now() - silent_start);
    silent_max = std::max(silent_max, absl::Now() - silent_start);
  }
  EXPECT_GE(silent_min, handshake_timeout - absl::Milliseconds(50));
  EXPECT_LT(silent_max, handshake_timeout + absl::Seconds(2));

  // The writers block on the bounded queue and window, before the close.
  const int64_t pushed = test::WaitUntilStalled(pusher.pushed());
  EXPECT_FALSE(deaf->closed())
      << "closed before its writer blocked: " << deaf->status();
  EXPECT_LE(pushed, int64_t{kMaxQueued} + KernelBufferBound(kRcvbuf));
  const int64_t written = test::WaitUntilStalled(echo_.range_written);
  EXPECT_FALSE(deaf_stream->closed()) << deaf_stream->status();
  test::rpc::EchoReply reply;
  reply.set_n(written);
  reply.set_payload(request.payload());
  const int64_t reply_bytes = static_cast<int64_t>(
      transport::kMessageHeaderBytes + reply.ByteSizeLong());
  EXPECT_GT(written, 0);
  EXPECT_LE(written * reply_bytes,
            int64_t{rpc::kStreamWindowBytes} + reply_bytes);

  // Then the keepalive closes both.
  absl::Duration deaf_lasted, stream_lasted;
  ASSERT_TRUE(PollUntil(
      [&] {
        if (deaf_lasted == absl::ZeroDuration() && deaf->closed()) {
          deaf_lasted = absl::Now() - deaf_start;
        }
        if (stream_lasted == absl::ZeroDuration() && deaf_stream->closed()) {
          stream_lasted = absl::Now() - stream_start;
        }
        return deaf->closed() && deaf_stream->closed();
      },
      absl::Seconds(15)));
  for (const std::shared_ptr<Bridge>& session : {deaf, deaf_stream}) {
    EXPECT_EQ(session->status().code(), absl::StatusCode::kUnavailable)
        << session->status();
    EXPECT_THAT(std::string(session->status().message()),
                HasSubstr("(keepalive)"));
  }
  for (absl::Duration lasted : {deaf_lasted, stream_lasted}) {
    EXPECT_GE(lasted, 2 * keepalive - absl::Milliseconds(50));
    EXPECT_LT(lasted, 2 * keepalive + absl::Seconds(2));
  }
  const absl::Status end = pusher.Join();
  EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
  EXPECT_TRUE(PollUntil([&] { return echo_.finished.load() > finished_before; },
                        absl::Seconds(10)))
      << "the Range handler never returned";
  deaf.reset();
  deaf_stream.reset();
  ExpectFreed(kSilent + 2);
  silent.clear();
  deaf_peer.reset();
  stream_peer.reset();
  ExpectFreed(0);
  const Probe::Report report = probe_->Stop();
  std::printf(
      "half-open: %d silent peers closed after %s-%s (handshake_timeout %s); a "
      "peer that does not read: SendBuffer blocked after %lld bytes "
      "(max_queued_send_bytes %zu, tcp_wmem max %lld), Range after %lld "
      "replies of %lld bytes (window %u); closed by the keepalive after %s "
      "and %s "
      "(interval + timeout %s); probe: %s\n",
      kSilent, Ms(silent_min).c_str(), Ms(silent_max).c_str(),
      Ms(handshake_timeout).c_str(), static_cast<long long>(pushed), kMaxQueued,
      static_cast<long long>(TcpWmemMax()), static_cast<long long>(written),
      static_cast<long long>(reply_bytes), rpc::kStreamWindowBytes,
      Ms(deaf_lasted).c_str(), Ms(stream_lasted).c_str(),
      Ms(2 * keepalive).c_str(), report.ToString().c_str());
  Probe::ExpectHealthy(report);
}

// A key holder that sends requests as fast as it can and never reads the
// answers: every request makes the server queue a reply, so the server stops
// reading that connection while more than max_queued_send_bytes of its
// output is unread (Bridge::ProcessInput). The peer's writes then block, the
// server holds a bounded number of replies (not one per request sent), the
// keepalive closes the connection (our PINGs go unanswered), and everyone
// else is served meanwhile. Without the pause the server handled all 4000
// calls and queued their 64 MiB of replies.
// Counts the calls that finish from one peer IP.
class CallsFrom : public ServerInterceptor {
 public:
  explicit CallsFrom(std::string ip) : ip_(std::move(ip)) {}
  void OnFinish(ServerContext* context, const absl::Status&) override {
    if (context->PeerIp() == ip_) ++finished;
  }
  std::atomic<int64_t> finished{0};

 private:
  const std::string ip_;
};

TEST_F(HostilePeerTest, APeerThatSendsButNeverReadsIsPausedThenClosed) {
  SendsButNeverReads(/*reading_stream=*/false);
}

// The same with a client-streaming call open first, whose handler waits in
// Read: then the handler's thread, not the loop, reads the session
// (RpcConnection::Wait), and the pause must hold for that reader too.
TEST_F(HostilePeerTest,
       APeerThatSendsButNeverReadsIsPausedWhileAStreamHandlerReads) {
  SendsButNeverReads(/*reading_stream=*/true);
}

void HostilePeerTest::SendsButNeverReads(bool reading_stream) {
  constexpr int kRcvbuf = 4096;
  constexpr size_t kMaxQueued = 256 << 10;
  constexpr int kCalls = 4000;
  const absl::Duration keepalive = absl::Milliseconds(1500);  // Each of two.
  ServerOptions options;
  options.policy.new_connections_per_ip_per_second = 0;
  options.bridge.keepalive_interval = keepalive;
  options.bridge.keepalive_timeout = keepalive;
  options.bridge.max_queued_send_bytes = kMaxQueued;
  auto calls = std::make_shared<CallsFrom>("127.0.0.22");
  options.rpc.interceptors.push_back(calls);
  Start(options);
  if (HasFatalFailure()) return;
  std::shared_ptr<Bridge> session;
  std::unique_ptr<RawPeer> peer = Authenticated("127.0.0.22", kRcvbuf, &session);
  ASSERT_NE(session, nullptr);

  rpc::CallHeaders headers;
  headers.set_method("/netstructer.test.rpc.Echo/Unary");
  test::rpc::EchoRequest request;
  request.set_payload(RandomBytes(16 << 10));
  const std::string body = request.SerializeAsString();
  const std::string call = rpc::EncodePrefixed(headers) +
                           rpc::MessageHeader(body.size()) + body;
  uint32_t first_id = rpc::kFirstCallStreamId;
  if (reading_stream) {
    rpc::CallHeaders sum;
    sum.set_method("/netstructer.test.rpc.Echo/Sum");
    ASSERT_TRUE(peer->SendFrame(first_id, FrameType::kHeaders, 0,
                                rpc::EncodePrefixed(sum),
                                absl::Now() + absl::Seconds(1))
                    .ok());
    first_id += 2;
    // Its handler runs and waits for the first message.
    ASSERT_TRUE(
        PollUntil([&] { return echo_.sums_started >= 1; }, absl::Seconds(5)));
  }
  const absl::Time start = absl::Now();
  int sent = 0;
  for (; sent < kCalls; ++sent) {
    // A write that cannot finish within a second means the server stopped
    // reading.
    if (!peer->SendFrame(first_id + 2 * sent, FrameType::kHeaders,
                         transport::kFlagEndMessage | transport::kFlagEndStream,
                         call, absl::Now() + absl::Seconds(1))
             .ok()) {
      break;
    }
  }
  const int64_t stalled = test::WaitUntilStalled(calls->finished);
  EXPECT_LT(sent, kCalls) << "the server read every request";
  // What the server queued: replies of ~16 KiB for the calls it handled,
  // bounded by the limit, the kernel's buffers and one read's worth.
  const int64_t reply_bytes = static_cast<int64_t>(body.size()) + 64;
  EXPECT_LE(stalled * reply_bytes, int64_t{kMaxQueued} +
                                       KernelBufferBound(kRcvbuf) +
                                       (int64_t{1} << 20));
  // Then the keepalive closes it; the probe was served all along.
  ASSERT_TRUE(PollUntil([&] { return session->closed(); }, absl::Seconds(15)));
  const absl::Duration lasted = absl::Now() - start;
  EXPECT_EQ(session->status().code(), absl::StatusCode::kUnavailable)
      << session->status();
  EXPECT_THAT(std::string(session->status().message()), HasSubstr("(keepalive)"));
  session.reset();
  peer.reset();
  ExpectFreed(0);
  const Probe::Report report = probe_->Stop();
  std::printf(
      "sends but never reads: %d of %d calls written before the server stopped "
      "reading, %lld handled (replies of %lld bytes, max_queued_send_bytes "
      "%zu, tcp_wmem max %lld); closed by the keepalive after %s; probe: %s\n",
      sent, kCalls, static_cast<long long>(stalled),
      static_cast<long long>(reply_bytes), kMaxQueued,
      static_cast<long long>(TcpWmemMax()), Ms(lasted).c_str(),
      report.ToString().c_str());
  Probe::ExpectHealthy(report);
}

// Peers that do not read, each with a blocked writer, that the idle timeout
// closes: each gets its GOAWAY UNAVAILABLE "... (idle_timeout)" if it fits,
// and closing them must not stall the event loop that serves every other
// session (the probe's RPC calls run on it).
TEST_F(HostilePeerTest,
       IdleTimeoutClosesPeersThatDoNotReadWithoutStallingOthers) {
  constexpr int kDeaf = 3;
  constexpr int kRcvbuf = 4096;
  const absl::Duration idle_timeout = absl::Seconds(1);
  ServerOptions options;
  options.policy.idle_timeout = idle_timeout;
  options.bridge.max_queued_send_bytes = 256 << 10;
  Start(options);
  if (HasFatalFailure()) return;
  std::vector<std::unique_ptr<RawPeer>> peers;
  std::vector<std::shared_ptr<Bridge>> sessions;
  std::vector<std::unique_ptr<Pusher>> pushers;
  for (int i = 0; i < kDeaf; ++i) {
    std::shared_ptr<Bridge> session;
    peers.push_back(
        Authenticated(absl::StrCat("127.0.0.", 30 + i), kRcvbuf, &session));
    ASSERT_NE(session, nullptr);
    sessions.push_back(session);
    pushers.push_back(std::make_unique<Pusher>(session, 32 << 10));
  }
  for (auto& pusher : pushers) test::WaitUntilStalled(pusher->pushed());
  const absl::Time stalled = absl::Now();
  ASSERT_TRUE(PollUntil(
      [&] {
        for (const auto& s : sessions) {
          if (!s->closed()) return false;
        }
        return true;
      },
      absl::Seconds(15)));
  const absl::Duration closed_after = absl::Now() - stalled;
  for (const auto& s : sessions) {
    EXPECT_EQ(s->status().code(), absl::StatusCode::kUnavailable)
        << s->status();
    EXPECT_THAT(std::string(s->status().message()),
                HasSubstr("(idle_timeout)"));
  }
  for (auto& pusher : pushers) {
    const absl::Status end = pusher->Join();
    EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
  }
  EXPECT_LT(closed_after, idle_timeout + absl::Seconds(2));
  sessions.clear();
  ExpectFreed(kDeaf);
  const Probe::Report report = probe_->Stop();
  std::printf(
      "idle timeout: %d peers that do not read closed within %s of "
      "their writers blocking (idle_timeout %s); probe: %s\n",
      kDeaf, Ms(closed_after).c_str(), Ms(idle_timeout).c_str(),
      report.ToString().c_str());
  Probe::ExpectHealthy(report);
}

// Server::Shutdown(deadline) "returns within about deadline" even when its
// sessions' peers do not read: a peer that never answers the GOAWAY costs
// its share of the deadline, not more.
TEST_F(HostilePeerTest, ShutdownKeepsItsDeadlineWithPeersThatDoNotRead) {
  constexpr int kDeaf = 3;
  ServerOptions options;
  options.bridge.max_queued_send_bytes = 256 << 10;
  Start(options);
  if (HasFatalFailure()) return;
  probe_.reset();  // Shutdown ends its sessions too.
  ASSERT_TRUE(
      PollUntil([&] { return server_->Count() == 0; }, absl::Seconds(10)));
  std::vector<std::unique_ptr<RawPeer>> peers;
  std::vector<std::unique_ptr<Pusher>> pushers;
  for (int i = 0; i < kDeaf; ++i) {
    std::shared_ptr<Bridge> session;
    peers.push_back(
        Authenticated(absl::StrCat("127.0.0.", 40 + i), 4096, &session));
    ASSERT_NE(session, nullptr);
    pushers.push_back(std::make_unique<Pusher>(session, 32 << 10));
  }
  for (auto& pusher : pushers) test::WaitUntilStalled(pusher->pushed());
  const absl::Time start = absl::Now();
  server_->Shutdown(absl::Seconds(1));
  const absl::Duration took = absl::Now() - start;
  std::printf("shutdown with %d peers that do not read: %s (deadline 1 s)\n",
              kDeaf, Ms(took).c_str());
  EXPECT_LT(took, absl::Milliseconds(1500));
  for (auto& pusher : pushers) EXPECT_FALSE(pusher->Join().ok());
}

// ---- At the descriptor limit ----------------------------------------------

// A server process (kill_test's: the Echo service, Bridge buffers echoed;
// default policy, handshake_timeout 10 s) under RLIMIT_NOFILE kNofile, set
// by prlimit. Raw connections that never send take its descriptors one by
// one; at the limit, more wait in the listen backlog. There the server must
// neither spin nor pile up work (its CPU time, and the context switches of
// its busiest thread, over 2 s), must keep serving its sessions, and must
// take the waiting connections once descriptors free up: a client that
// connected at the limit gets in. Hostile connections come from addresses
// of their own (127.0.2.x, 127.0.3.x), below the per-IP caps and rates.
TEST(HostilePeerFdLimit, AtTheLimitTheServerNeitherSpinsNorCrashesAndRecovers) {
  constexpr int kNofile = 40;
  constexpr int kBacklogged = 200;
  const std::string key_path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/hostile_peer.key");
  const FernetKey key = FernetKey::Generate().value();
  {
    std::ofstream out(key_path);
    out << key.Encode() << "\n";
  }
  chmod(key_path.c_str(), 0600);
  // prlimit sets the limit, then executes the server in its own process.
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(
      {"/usr/bin/prlimit", absl::StrCat("--nofile=", kNofile),
       ::netstructer::testing::RunfilePath(
           "tests/integration/kill_test_server"),
       "127.0.0.1:0", key_path});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::string> line =
      (*child)->WaitForStderr("listening on", absl::Seconds(20));
  ASSERT_TRUE(line.ok()) << line.status();
  const std::string address(absl::StripPrefix(*line, "listening on "));
  const std::string pid = absl::StrCat((*child)->pid());

  auto probe = std::make_unique<Probe>(address, key, kProbeIp, nullptr);
  const int child_baseline = FdCountOf(pid);

  // Take every descriptor the child has left, one connection at a time.
  std::vector<std::unique_ptr<RawPeer>> held;
  while (FdCountOf(pid) < kNofile) {
    ASSERT_LT(held.size(), static_cast<size_t>(kNofile)) << FdCountOf(pid);
    const int before = FdCountOf(pid);
    held.push_back(
        RawPeer::Connect(address, absl::StrCat("127.0.2.", held.size() + 1)));
    ASSERT_NE(held.back(), nullptr);
    ASSERT_TRUE(
        PollUntil([&] { return FdCountOf(pid) > before; }, absl::Seconds(5)))
        << "the server stopped accepting below its limit at " << before;
  }
  // More connections: they wait in the backlog. They arrive one by one, as
  // clients do, so that each is a readiness event of its own.
  for (int i = 0; i < kBacklogged; ++i) {
    held.push_back(RawPeer::Connect(address, absl::StrCat("127.0.3.", i + 1)));
    ASSERT_NE(held.back(), nullptr);
    absl::SleepFor(absl::Milliseconds(5));
  }

  // The sessions are served at the limit.
  const int rounds_before = probe->rounds();
  EXPECT_TRUE(PollUntil([&] { return probe->rounds() >= rounds_before + 20; },
                        absl::Seconds(10)));
  const Probe::Report at_limit = probe->Stop();
  // There, with connections waiting: no busy loop, no pile of timers
  // (measured without the probe's traffic, which wakes the server too).
  const absl::Duration cpu0 = CpuTime(pid);
  const std::map<std::string, int64_t> wakeups0 = Wakeups(pid);
  const absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(2));  // The measurement window, not a wait.
  const absl::Duration window = absl::Now() - t0;
  const double cpu_share = (CpuTime(pid) - cpu0) / window;
  const double wakeups_per_s =
      static_cast<double>(BusiestThread(wakeups0, Wakeups(pid))) /
      absl::ToDoubleSeconds(window);
  EXPECT_EQ(FdCountOf(pid), kNofile);

  // A client that arrives now waits, and gets in once descriptors are free.
  Mutex mu;
  absl::Status latecomer_status = absl::UnknownError("still waiting");
  bool latecomer_done = false;
  std::shared_ptr<Bridge> latecomer;
  std::thread late([&] {
    LinkOptions o;
    o.key = key;
    o.local_address = "127.0.0.8:0";
    o.connect_timeout = absl::Seconds(5);
    o.handshake_timeout = absl::Seconds(20);
    absl::StatusOr<std::shared_ptr<Bridge>> b = Bridge::Link(address, o);
    MutexLock lock(&mu);
    latecomer_status = DetachedStatus(b.status());
    if (b.ok()) latecomer = *b;
    latecomer_done = true;
  });
  held.clear();
  EXPECT_TRUE(PollUntil(
      [&] {
        MutexLock lock(&mu);
        return latecomer_done;
      },
      absl::Seconds(30)));
  late.join();  // Link's own deadlines bound it (25 s).
  ASSERT_TRUE(latecomer_status.ok()) << latecomer_status;
  ASSERT_TRUE(latecomer->SendBuffer(MakeStr("let in")).ok());
  RecvOptions within;
  within.timeout = absl::Seconds(10);
  absl::StatusOr<Value> echoed = latecomer->RecvBuffer(within);
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ(echoed->str_value(), "let in");

  // Everything the flood held is back; the child still runs.
  EXPECT_TRUE(PollUntil([&] { return FdCountOf(pid) == child_baseline + 1; },
                        absl::Seconds(15)))
      << FdCountOf(pid) << " vs " << child_baseline << " + 1";
  probe = std::make_unique<Probe>(address, key, kProbeIp, nullptr);
  const absl::Duration cpu1 = CpuTime(pid);
  const absl::Time t1 = absl::Now();
  EXPECT_TRUE(
      PollUntil([&] { return probe->rounds() >= 20; }, absl::Seconds(10)));
  const Probe::Report after = probe->Stop();
  const absl::Duration cpu_after = CpuTime(pid) - cpu1;
  const absl::Duration after_window = absl::Now() - t1;
  std::printf(
      "descriptor limit %d: reached with %zu connections, %d more in the "
      "backlog; there the server used %.1f%% of a core, its busiest thread "
      "%.0f context switches/s, over %s; probe at the limit: %s; the latecomer "
      "got in once descriptors were free; after: probe %s, server CPU %s in "
      "%s\n",
      kNofile, static_cast<size_t>(kNofile - child_baseline), kBacklogged,
      100 * cpu_share, wakeups_per_s, Ms(window).c_str(),
      at_limit.ToString().c_str(), after.ToString().c_str(),
      Ms(cpu_after).c_str(), Ms(after_window).c_str());
  Probe::ExpectHealthy(at_limit);
  Probe::ExpectHealthy(after);
  EXPECT_LT(cpu_share, 0.3);
  // Its busiest thread is then the echo thread, in 20 ms receive slices
  // (50/s); the event loop wakes for the one retry timer (10/s) and the
  // sessions' ticks. With a retry timer per readiness event of the
  // listener, the loop woke 270-450/s here, more with every new arrival.
  EXPECT_LT(wakeups_per_s, 150);
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string state((std::istreambuf_iterator<char>(stat)), {});
  EXPECT_THAT(state, ::testing::Not(HasSubstr(") Z"))) << "the server died";
  latecomer.reset();
  probe.reset();
  EXPECT_EQ((*child)->Stop(SIGKILL), 128 + SIGKILL) << (*child)->err();
}

}  // namespace
}  // namespace netstructer
