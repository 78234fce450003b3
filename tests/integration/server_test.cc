// Server + Bridge::Link end to end over real loopback TCP, IPv4 and IPv6:
// the README's values, the accept policy, the handshake's errors, hostile
// peers (garbage, silence, tampering, replay, reordering, truncation), and
// the session container (Count/All/Get/Pop/Clear).
#include "netstructer/service/server.h"

#include <sys/socket.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/proto/python_literal.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/value.h"
#include "netstructer/tests/testing/tcp_proxy.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/compression.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/frame_header.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/handshake_format.h"
#include "netstructer/transport/handshake_io.h"
#include "netstructer/transport/handshake_messages.h"
#include "netstructer/transport/socket.h"

namespace netstructer {
namespace {

using ::netstructer::testing::TcpProxy;
using ::testing::HasSubstr;
using transport::FernetKey;

RecvOptions Within(absl::Duration d) {
  RecvOptions o;
  o.timeout = d;
  return o;
}

class ServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { key_ = FernetKey::Generate().value(); }

  std::unique_ptr<Server> StartServer(service::AcceptPolicyOptions policy = {},
                                      BridgeOptions bridge = {}) {
    ServerOptions options;
    options.keys = {key_};
    options.policy = policy;
    options.bridge = bridge;
    auto server = std::make_unique<Server>(GetParam() + ":0", options);
    EXPECT_TRUE(server->Init().ok());
    EXPECT_TRUE(server->Listen().ok());
    return server;
  }

  absl::StatusOr<std::shared_ptr<Bridge>> Connect(const Server& server,
                                                  std::optional<FernetKey> key = {},
                                                  std::string local = "") {
    LinkOptions options;
    options.key = key.has_value() ? *key : key_;
    options.local_address = local;
    options.handshake_timeout = absl::Seconds(5);
    return Bridge::Link(server.address(), options);
  }

  // Waits until the server counts `n` sessions.
  bool WaitForCount(const Server& server, size_t n) {
    for (int i = 0; i < 500; ++i) {
      if (server.Count() == n) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  FernetKey key_ = FernetKey::Generate().value();
};

TEST_P(ServerTest, ReadmeValuesAndFalsyValuesRoundTripInOrder) {
  auto server = StartServer();
  auto client = Connect(*server);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(WaitForCount(*server, 1));
  std::shared_ptr<Bridge> session = server->All().front();
  const std::vector<std::string> literals = {
      "['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 4, 6}, (False, True)]",
      "0", "'x'", "''", "[1]", "[]", "None", "False", "b''", "True"};
  for (const std::string& l : literals) {
    ASSERT_TRUE((*client)->SendBuffer(ParseLiteral(l).value()).ok());
  }
  for (const std::string& l : literals) {
    absl::StatusOr<Value> v = session->RecvBuffer(Within(absl::Seconds(10)));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(Repr(*v), l);
  }
  ASSERT_TRUE(session->SendBuffer(ParseLiteral("{'reply': (1,)}").value()).ok());
  EXPECT_EQ(Repr((*client)->RecvBuffer(Within(absl::Seconds(10))).value()),
            "{'reply': (1,)}");
  EXPECT_TRUE((*client)->secure());
  EXPECT_TRUE(session->secure());
}

TEST_P(ServerTest, WrongKeyIsUnauthenticatedAndTheServerKeepsServing) {
  auto server = StartServer();
  auto bad = Connect(*server, FernetKey::Generate().value());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("the server did not accept this key"));
  auto good = Connect(*server);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(WaitForCount(*server, 1));
}

TEST_P(ServerTest, KeyRingAcceptsTheOlderKey) {
  const FernetKey old_key = key_;
  const FernetKey new_key = FernetKey::Generate().value();
  ServerOptions options;
  options.keys = {new_key, old_key};
  Server server(GetParam() + ":0", options);
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  EXPECT_TRUE(Connect(server, old_key).ok());
  EXPECT_TRUE(Connect(server, new_key).ok());
}

// docs/SECURITY.md "Key rotation", steps 1-3, on a running server.
TEST_P(ServerTest, SetKeysRotatesWithoutARestartAndKeepsEstablishedSessions) {
  const FernetKey old_key = key_;
  const FernetKey new_key = FernetKey::Generate().value();
  auto server = StartServer();
  auto before = Connect(*server, old_key);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(Connect(*server, new_key).status().code(),
            absl::StatusCode::kUnauthenticated);

  // Step 1: the new key joins the ring; both are accepted.
  ASSERT_TRUE(server->SetKeys({old_key, new_key}).ok());
  auto with_new = Connect(*server, new_key);
  ASSERT_TRUE(with_new.ok()) << with_new.status();
  EXPECT_TRUE(Connect(*server, old_key).ok());

  // Step 3: the old key leaves; new handshakes with it fail, the session
  // established with it keeps working.
  ASSERT_TRUE(server->SetKeys({new_key}).ok());
  absl::StatusOr<std::shared_ptr<Bridge>> refused = Connect(*server, old_key);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(WaitForCount(*server, 2));  // `before` and `with_new`.
  ASSERT_TRUE((*before)->SendBuffer(ParseLiteral("'still here'").value()).ok());
  // All() is in establishment order: the first session is `before`'s.
  absl::StatusOr<Value> v =
      server->All().front()->RecvBuffer(Within(absl::Seconds(10)));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(Repr(*v), "'still here'");

  // Bad rings are refused and change nothing.
  EXPECT_EQ(server->SetKeys({}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server->SetKeys({new_key, new_key}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Connect(*server, new_key).ok());

  ServerOptions insecure;
  insecure.insecure = true;
  Server plain(GetParam() + ":0", insecure);
  ASSERT_TRUE(plain.Init().ok());
  EXPECT_EQ(plain.SetKeys({new_key}).code(), absl::StatusCode::kInvalidArgument);
  ServerOptions keyed;
  keyed.keys = {new_key};
  Server not_started(GetParam() + ":0", keyed);
  EXPECT_EQ(not_started.SetKeys({new_key}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(ServerTest, DeniedAddressIsPermissionDeniedWithTheReason) {
  service::AcceptPolicyOptions policy;
  policy.deny = {service::CidrRange::Parse(GetParam() == "127.0.0.1" ? "127.0.0.0/8"
                                                                      : "::1/128")
                     .value()};
  auto server = StartServer(policy);
  auto client = Connect(*server);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("is denied by rule"));
}

TEST_P(ServerTest, MostSpecificRuleWinsForASourceAddress) {
  if (GetParam() != "127.0.0.1") GTEST_SKIP() << "needs 127.0.0.2";
  service::AcceptPolicyOptions policy;
  policy.allow = {service::CidrRange::Parse("127.0.0.0/8").value()};
  policy.deny = {service::CidrRange::Parse("127.0.0.2/32").value()};
  auto server = StartServer(policy);
  auto denied = Connect(*server, {}, "127.0.0.2:0");
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(denied.status().message()),
              HasSubstr("127.0.0.2 is denied by rule 127.0.0.2/32"));
  EXPECT_TRUE(Connect(*server, {}, "127.0.0.3:0").ok());
}

TEST_P(ServerTest, PerIpCapRefusesTheThirdAndFreesOnClose) {
  service::AcceptPolicyOptions policy;
  policy.max_sessions_per_ip = 2;
  auto server = StartServer(policy);
  auto a = Connect(*server);
  auto b = Connect(*server);
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = Connect(*server);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("max_sessions_per_ip 2"));
  ASSERT_TRUE((*a)->Close().ok());
  ASSERT_TRUE(WaitForCount(*server, 1));
  EXPECT_TRUE(Connect(*server).ok());
}

TEST_P(ServerTest, TotalCapRefusesPastTheLimit) {
  service::AcceptPolicyOptions policy;
  policy.max_sessions_total = 1;
  auto server = StartServer(policy);
  auto a = Connect(*server);
  ASSERT_TRUE(a.ok());
  auto b = Connect(*server);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("session limit (1)"));
}

// Unauthenticated peers cannot lock clients out: a server whose every slot
// is held by a silent socket (no handshake) still admits a real client, by
// ending the oldest handshake in progress, which is told why (it used to
// refuse the client: "the server is at its session limit").
TEST_P(ServerTest, SilentSocketsInEverySlotDoNotLockOutARealClient) {
  service::AcceptPolicyOptions policy;
  policy.max_sessions_total = 6;
  policy.handshake_timeout = absl::Seconds(30);  // Far beyond the test.
  auto server = StartServer(policy);
  std::vector<transport::Socket> silent;
  for (int i = 0; i < 6; ++i) {
    silent.push_back(transport::ConnectTcp(*transport::ResolveAddress(server->address()),
                                           absl::Now() + absl::Seconds(5))
                         .value());
  }
  // All six are held: the server counts them before the client arrives.
  // (The server admits in accept order on its loop; a Link that fails would
  // fail with the session limit.)
  std::vector<std::shared_ptr<Bridge>> clients;  // Each keeps its slot.
  for (int round = 0; round < 3; ++round) {
    absl::StatusOr<std::shared_ptr<Bridge>> client = Connect(*server);
    ASSERT_TRUE(client.ok()) << client.status();
    ASSERT_TRUE((*client)->SendBuffer(MakeInt(round)).ok());
    clients.push_back(*std::move(client));
  }
  // The three oldest silent sockets gave way, each with a REFUSAL saying so.
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::string> body =
        transport::ReadOneFrame(silent[i].fd(), absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(body.ok()) << i << ": " << body.status();
    absl::StatusOr<transport::OpenedFrame> frame =
        transport::FrameOpener::Handshake().Open(*body);
    ASSERT_TRUE(frame.ok()) << frame.status();
    const absl::Status refused = transport::RefusalToStatus(frame->payload);
    EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
    EXPECT_THAT(std::string(refused.message()), HasSubstr("gave way"));
  }
}

TEST_P(ServerTest, RateLimitRefusesABurstOfNewConnections) {
  service::AcceptPolicyOptions policy;
  policy.new_connections_per_ip_per_second = 0.01;
  policy.new_connection_burst_per_ip = 3;
  auto server = StartServer(policy);
  std::vector<std::shared_ptr<Bridge>> kept;
  for (int i = 0; i < 3; ++i) {
    auto c = Connect(*server);
    ASSERT_TRUE(c.ok()) << i << ": " << c.status();
    kept.push_back(*c);
  }
  auto d = Connect(*server);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("too many new connections"));
}

TEST_P(ServerTest, SilentClientIsDroppedAtTheHandshakeTimeout) {
  service::AcceptPolicyOptions policy;
  policy.handshake_timeout = absl::Milliseconds(200);
  policy.max_sessions_per_ip = 1;
  auto server = StartServer(policy);
  transport::Socket silent =
      transport::ConnectTcp(*transport::ResolveAddress(server->address()),
                            absl::Now() + absl::Seconds(5))
          .value();
  // The server closes it: we read EOF well within a few seconds.
  ASSERT_TRUE(transport::WaitReadable(silent.fd(), absl::Now() + absl::Seconds(5)));
  char c;
  EXPECT_EQ(recv(silent.fd(), &c, 1, 0), 0);
  // Its slot is free again (per-IP cap 1).
  EXPECT_TRUE(Connect(*server).ok());
}

TEST_P(ServerTest, GarbageInsteadOfAHandshakeGetsARefusalAndServingGoesOn) {
  auto server = StartServer();
  transport::Socket raw =
      transport::ConnectTcp(*transport::ResolveAddress(server->address()),
                            absl::Now() + absl::Seconds(5))
          .value();
  ASSERT_TRUE(transport::WriteAll(raw.fd(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                  absl::Now() + absl::Seconds(5))
                  .ok());
  absl::StatusOr<std::string> refusal =
      transport::ReadOneFrame(raw.fd(), absl::Now() + absl::Seconds(5));
  // "GET " as a length is far over the handshake limit: the server says why
  // in a REFUSAL frame, then closes.
  ASSERT_TRUE(refusal.ok()) << refusal.status();
  EXPECT_THAT(*refusal, HasSubstr("malformed handshake"));
  EXPECT_TRUE(Connect(*server).ok());
}

// No lz4 before authentication (docs/PROTOCOL.md 7.1): a handshake frame
// with COMPRESSED is malformed, decided from its header. Here the compressed
// payload is a valid ClientHello (an lz4 block of literals only), which a
// server that decompressed first would have answered with a ServerHello.
TEST_P(ServerTest, ACompressedHandshakeFrameIsRefusedBeforeAnyDecompression) {
  auto server = StartServer();
  absl::StatusOr<transport::ClientHandshake> hs =
      transport::ClientHandshake::Create(key_);
  ASSERT_TRUE(hs.ok());
  const std::string hello = hs->client_hello();
  ASSERT_EQ(hello.size(), transport::kClientHelloBytes);
  ASSERT_LT(hello.size(), 15u + 255u);  // One length byte below.
  std::string payload(4, '\0');
  transport::big_endian::Store32(static_cast<uint32_t>(hello.size()), payload.data());
  payload += "\xf0";  // lz4 token: 15+ literals, no match.
  payload += static_cast<char>(hello.size() - 15);
  payload += hello;
  ASSERT_TRUE(transport::Decompress(payload, 1024).ok());  // Well-formed.
  transport::FrameHeader header;
  header.type = transport::FrameType::kHandshake;
  header.flags = transport::kFlagCompressed;
  std::string wire;
  ASSERT_TRUE(
      transport::AppendFrame(transport::EncodeFrameHeader(header) + payload, &wire)
          .ok());
  transport::Socket raw =
      transport::ConnectTcp(*transport::ResolveAddress(server->address()),
                            absl::Now() + absl::Seconds(5))
          .value();
  ASSERT_TRUE(transport::WriteAll(raw.fd(), wire, absl::Now() + absl::Seconds(5)).ok());
  absl::StatusOr<std::string> reply =
      transport::ReadOneFrame(raw.fd(), absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.status();
  absl::StatusOr<transport::OpenedFrame> frame =
      transport::FrameOpener::Handshake().Open(*reply);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->header.type, transport::FrameType::kRefusal);
  const absl::Status refused = transport::RefusalToStatus(frame->payload);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("malformed handshake"));
  EXPECT_TRUE(Connect(*server).ok());
}

TEST_P(ServerTest, TwoClientsFromOneIpAreTwoSessionsAndGetReturnsTheOldest) {
  auto server = StartServer();
  auto first = Connect(*server);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(WaitForCount(*server, 1));
  auto second = Connect(*server);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(WaitForCount(*server, 2));
  const std::string ip = GetParam() == "127.0.0.1" ? "127.0.0.1" : "::1";
  EXPECT_EQ(server->GetAll(ip).size(), 2u);
  std::shared_ptr<Bridge> oldest = server->Get(ip);
  ASSERT_NE(oldest, nullptr);
  ASSERT_TRUE((*first)->SendBuffer(MakeStr("from first")).ok());
  EXPECT_EQ(Repr(oldest->RecvBuffer(Within(absl::Seconds(10))).value()), "'from first'");
  // Pop removes the oldest and hands it over, still open.
  std::shared_ptr<Bridge> popped = server->Pop(ip);
  EXPECT_EQ(popped, oldest);
  EXPECT_EQ(server->Count(), 1u);
  ASSERT_TRUE(popped->SendBuffer(MakeStr("still open")).ok());
  EXPECT_EQ(Repr((*first)->RecvBuffer(Within(absl::Seconds(10))).value()), "'still open'");
  EXPECT_EQ(server->Pop("192.0.2.1"), nullptr);
}

TEST_P(ServerTest, ClearClosesSocketsAndThePeerSeesIt) {
  auto server = StartServer();
  auto a = Connect(*server);
  auto b = Connect(*server);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(WaitForCount(*server, 2));
  EXPECT_EQ(server->Clear(), 2u);
  EXPECT_EQ(server->Count(), 0u);
  for (auto* c : {&*a, &*b}) {
    absl::StatusOr<Value> v = (*c)->RecvBuffer(Within(absl::Seconds(10)));
    EXPECT_EQ(v.status().code(), absl::StatusCode::kOutOfRange) << v.status();
  }
}

TEST_P(ServerTest, ListenBeforeInitIsFailedPrecondition) {
  ServerOptions options;
  options.keys = {key_};
  Server server(GetParam() + ":0", options);
  EXPECT_EQ(server.Listen().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server.ListenOn([](Server&) {}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(ServerTest, BindErrorsAreClear) {
  auto server = StartServer();
  ServerOptions options;
  options.keys = {key_};
  Server clash(server->address(), options);
  absl::Status s = clash.Init();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("already in use"));
  Server bad("not an address", options);
  EXPECT_EQ(bad.Init().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(ServerTest, UnreachableIsUnavailable) {
  // A port nobody listens on: bind one, close it, connect.
  std::string address;
  {
    auto server = StartServer();
    address = server->address();
  }
  LinkOptions options;
  options.key = key_;
  auto c = Bridge::Link(address, options);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
}

TEST_P(ServerTest, ListenOnDeliversAuthenticatedSessionsToTheUsersLoop) {
  ServerOptions options;
  options.keys = {key_};
  Server server(GetParam() + ":0", options);
  ASSERT_TRUE(server.Init().ok());
  std::thread client([&] {
    for (int i = 0; i < 2; ++i) {
      auto c = Connect(server);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE((*c)->SendBuffer(MakeInt(i)).ok());
      ASSERT_TRUE((*c)->Close().ok());
    }
  });
  std::vector<int64_t> got;
  ASSERT_TRUE(server
                  .ListenOn([&](Server& s) {
                    for (int i = 0; i < 2; ++i) {
                      auto session = s.Accept(absl::Seconds(10));
                      ASSERT_TRUE(session.ok()) << session.status();
                      got.push_back((*session)->RecvBuffer(Within(absl::Seconds(10)))
                                        ->int_value());
                    }
                  })
                  .ok());
  client.join();
  EXPECT_EQ(got, (std::vector<int64_t>{0, 1}));
}

// Hostile network: the proxy rewrites client->server frames after the
// handshake (frame 0 = ClientHello, 1 = ClientFinished, 2.. = sealed).
struct Attack {
  const char* name;
  TcpProxy::FrameRewriter rewriter;
};

TEST_P(ServerTest, TamperedReplayedReorderedAndTruncatedFramesAreDataLoss) {
  std::string held;  // For reordering and replay.
  const std::vector<Attack> attacks = {
      {"tampered", [](int i, const std::string& f) {
         std::string out = f;
         if (i == 3) out[out.size() / 2] ^= 0x01;
         return out;
       }},
      {"replayed", [&held](int i, const std::string& f) {
         if (i == 2) held = f;
         return i == 3 ? held + f : f;  // Frame 2 again, in place of 3.
       }},
      {"reordered", [&held](int i, const std::string& f) {
         if (i == 3) {
           held = f;
           return std::string();
         }
         return i == 4 ? f + held : f;
       }},
      {"dropped", [](int i, const std::string& f) { return i == 3 ? std::string() : f; }},
      {"truncated", [](int i, const std::string& f) {
         return i == 3 ? std::string("\xff") : f;
       }},
  };
  auto server = StartServer();
  for (const Attack& attack : attacks) {
    SCOPED_TRACE(attack.name);
    auto proxy = TcpProxy::Start(server->address(), attack.rewriter);
    ASSERT_TRUE(proxy.ok());
    LinkOptions options;
    options.key = key_;
    auto client = Bridge::Link((*proxy)->address(), options);
    ASSERT_TRUE(client.ok()) << client.status();
    ASSERT_TRUE(WaitForCount(*server, 1));
    std::shared_ptr<Bridge> session = server->All().front();
    for (int i = 0; i < 4; ++i) {
      (void)(*client)->SendBuffer(MakeInt(i));  // Frames 2, 3, 4, 5.
    }
    // Frame 2 (value 0) is delivered; the attacked frame 3 and everything
    // after it never are: the session ends with DATA_LOSS.
    EXPECT_EQ(session->RecvBuffer(Within(absl::Seconds(10)))->int_value(), 0);
    absl::StatusOr<Value> next = session->RecvBuffer(Within(absl::Seconds(10)));
    EXPECT_EQ(next.status().code(), absl::StatusCode::kDataLoss) << next.status();
    ASSERT_TRUE(WaitForCount(*server, 0));
  }
  // And the server goes on serving everyone else.
  auto fine = Connect(*server);
  ASSERT_TRUE(fine.ok());
  ASSERT_TRUE((*fine)->SendBuffer(MakeStr("ok")).ok());
}

TEST_P(ServerTest, IdleSessionIsClosedWithAReason) {
  service::AcceptPolicyOptions policy;
  policy.idle_timeout = absl::Milliseconds(200);
  auto server = StartServer(policy);
  auto client = Connect(*server);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<Value> v = (*client)->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("idle_timeout"));
  EXPECT_TRUE(WaitForCount(*server, 0));
}

// A leaked key is revoked for real (docs/SECURITY.md): each session shows
// which key it was made with, and after SetKeys removes a key its sessions
// are closed with a reason the peer sees; the others go on.
TEST_P(ServerTest, SessionsShowTheirKeyAndThoseOfARemovedKeyCanBeClosed) {
  const FernetKey leaked = key_;
  const FernetKey kept = FernetKey::Generate().value();
  ServerOptions options;
  options.keys = {kept, leaked};
  Server server(GetParam() + ":0", options);
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  auto with_leaked = Connect(server, leaked);
  auto with_kept = Connect(server, kept);
  ASSERT_TRUE(with_leaked.ok() && with_kept.ok());
  ASSERT_TRUE(WaitForCount(server, 2));
  // All() is in establishment order.
  EXPECT_EQ(server.All()[0]->key_index(), std::optional<int>(1));
  EXPECT_EQ(server.All()[1]->key_index(), std::optional<int>(0));
  EXPECT_EQ((*with_kept)->key_index(), std::nullopt);  // A client's own.

  EXPECT_EQ(server.CloseSessionsOfRemovedKeys(), 0u);  // Nothing removed yet.
  ASSERT_TRUE(server.SetKeys({kept}).ok());
  EXPECT_EQ(server.CloseSessionsOfRemovedKeys(), 1u);
  absl::StatusOr<Value> end = (*with_leaked)->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(end.status().code(), absl::StatusCode::kUnauthenticated) << end.status();
  EXPECT_THAT(std::string(end.status().message()), HasSubstr("revoked"));
  EXPECT_TRUE(IsConnectionEnd(end.status()));
  ASSERT_TRUE(WaitForCount(server, 1));
  ASSERT_TRUE((*with_kept)->SendBuffer(MakeInt(1)).ok());
  absl::StatusOr<Value> v = server.All().front()->RecvBuffer(Within(absl::Seconds(10)));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(server.CloseSessionsOfRemovedKeys(), 0u);
}

// A handshake that started before its key was removed does not become a
// session after the sweep (CloseSessionsOfRemovedKeys would never see it):
// its ClientFinished gets the late REFUSAL instead.
TEST_P(ServerTest, AHandshakeInFlightWhenItsKeyIsRemovedGetsNoSession) {
  const FernetKey revoked = key_;
  const FernetKey kept = FernetKey::Generate().value();
  ServerOptions options;
  options.keys = {kept, revoked};
  Server server(GetParam() + ":0", options);
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  transport::Socket raw =
      transport::ConnectTcp(*transport::ResolveAddress(server.address()), deadline)
          .value();
  transport::ClientHandshake hs = transport::ClientHandshake::Create(revoked).value();
  transport::FrameSealer plain = transport::FrameSealer::Insecure();
  transport::FrameOpener opener = transport::FrameOpener::Handshake();
  auto send = [&](const std::string& payload) {
    std::string wire;
    ASSERT_TRUE(plain.Seal(transport::kConnectionStreamId,
                           transport::FrameType::kHandshake, 0, payload, false,
                           absl::ToUnixSeconds(absl::Now()), &wire)
                    .ok());
    ASSERT_TRUE(transport::WriteAll(raw.fd(), wire, deadline).ok());
  };
  send(hs.client_hello());
  absl::StatusOr<std::string> hello = transport::ReadOneFrame(raw.fd(), deadline);
  ASSERT_TRUE(hello.ok()) << hello.status();
  absl::StatusOr<transport::OpenedFrame> sh = opener.Open(*hello);
  ASSERT_TRUE(sh.ok());
  absl::StatusOr<std::optional<std::string>> finished =
      hs.OnServerFrame(sh->header, sh->payload);
  ASSERT_TRUE(finished.ok() && finished->has_value()) << finished.status();

  ASSERT_TRUE(server.SetKeys({kept}).ok());  // Revoked mid-handshake.
  EXPECT_EQ(server.CloseSessionsOfRemovedKeys(), 0u);
  send(**finished);
  absl::StatusOr<std::string> late = transport::ReadOneFrame(raw.fd(), deadline);
  ASSERT_TRUE(late.ok()) << late.status();
  absl::StatusOr<transport::OpenedFrame> refusal = opener.Open(*late);
  ASSERT_TRUE(refusal.ok()) << refusal.status();
  EXPECT_EQ(refusal->header.type, transport::FrameType::kRefusal);
  EXPECT_EQ(refusal->header.sequence, 1u);
  EXPECT_EQ(transport::RefusalToStatus(refusal->payload).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(server.Count(), 0u);
}

// max_session_lifetime closes a session however busy it is, with a reason.
TEST_P(ServerTest, ASessionEndsAtItsMaximumLifetimeEvenWhenBusy) {
  service::AcceptPolicyOptions policy;
  policy.max_session_lifetime = absl::Milliseconds(300);
  auto server = StartServer(policy);
  auto client = Connect(*server);
  ASSERT_TRUE(client.ok());
  absl::Status sent;
  for (int i = 0; sent.ok() && i < 100000; ++i) {  // Busy: never idle.
    sent = (*client)->SendBuffer(MakeInt(i));
    if (sent.ok()) {
      absl::StatusOr<Value> got =
          (*client)->RecvBuffer(Within(absl::Milliseconds(1)));
      if (!got.ok() && IsConnectionEnd(got.status())) sent = got.status();
    }
  }
  EXPECT_EQ(sent.code(), absl::StatusCode::kUnavailable) << sent;
  EXPECT_THAT(std::string(sent.message()), HasSubstr("max_lifetime"));
  EXPECT_TRUE(WaitForCount(*server, 0));
}

TEST_P(ServerTest, ShutdownClosesSessionsAndNeverHangs) {
  auto server = StartServer();
  auto client = Connect(*server);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(WaitForCount(*server, 1));
  const absl::Time start = absl::Now();
  server->Shutdown(absl::Seconds(1));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ((*client)->RecvBuffer(Within(absl::Seconds(10))).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(server->Listen().code(), absl::StatusCode::kFailedPrecondition);
}

INSTANTIATE_TEST_SUITE_P(V4AndV6, ServerTest, ::testing::Values("127.0.0.1", "[::1]"),
                         [](const auto& info) {
                           return std::string(info.param == "127.0.0.1" ? "V4" : "V6");
                         });

}  // namespace
}  // namespace netstructer
