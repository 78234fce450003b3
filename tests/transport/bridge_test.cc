// Bridge over a real loopback TCP connection (IPv4 and IPv6), secure and
// insecure, without the handshake (tests/integration covers Link + Server):
// ordering, falsy values, sizes, limits, flow control, closing, keepalive.
#include "netstructer/transport/bridge.h"

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
#include "netstructer/proto/value_codec.h"
#include "netstructer/proto/value_compare.h"
#include "netstructer/tests/testing/tcp_pair.h"
#include "netstructer/transport/event_loop_group.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake_io.h"
#include "netstructer/transport/socket.h"

namespace netstructer {
namespace {

using ::testing::HasSubstr;
using transport::FernetKey;

struct Pair {
  std::shared_ptr<Bridge> a;  // "client"
  std::shared_ptr<Bridge> b;  // "server"
  std::shared_ptr<transport::EventLoop> loop;
};

using testing::ConnectedSockets;
using testing::SocketPair;

// A loop of a one-loop group of the test's own: the assignment holds the
// group, so the last Bridge or test let go of it ends its thread.
std::shared_ptr<transport::EventLoop> OneLoop() {
  return transport::EventLoopGroup::Create(1).value()->Assign();
}

Pair MakePair(bool secure, const std::string& host = "127.0.0.1",
              BridgeOptions options = {}) {
  SocketPair s = ConnectedSockets(host);
  std::shared_ptr<transport::EventLoop> loop = OneLoop();
  std::optional<FernetKey> c2s, s2c;
  if (secure) {
    c2s = FernetKey::Generate().value();
    s2c = FernetKey::Generate().value();
  }
  Pair p;
  p.loop = loop;
  p.a = Bridge::Adopt(std::move(s.a), loop, Bridge::Role::kClient, c2s, s2c, options);
  p.b = Bridge::Adopt(std::move(s.b), loop, Bridge::Role::kServer, s2c, c2s, options);
  return p;
}

RecvOptions Within(absl::Duration d) {
  RecvOptions o;
  o.timeout = d;
  return o;
}

class BridgeModes : public ::testing::TestWithParam<std::tuple<bool, std::string>> {
 protected:
  Pair Make(BridgeOptions options = {}) {
    return MakePair(std::get<0>(GetParam()), std::get<1>(GetParam()), options);
  }
};

TEST_P(BridgeModes, ReadmeAndFalsyValuesRoundTripInOrder) {
  Pair p = Make();
  const std::vector<std::string> literals = {
      "['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 4, 6}, (False, True)]",
      "0", "''", "[]", "None", "False", "b''", "(1,)", "{}", "set()", "0.0",
      "'end'"};
  for (const std::string& l : literals) {
    ASSERT_TRUE(p.a->SendBuffer(ParseLiteral(l).value()).ok()) << l;
  }
  for (const std::string& l : literals) {
    absl::StatusOr<Value> v = p.b->RecvBuffer(Within(absl::Seconds(10)));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(Repr(*v), l);
  }
  // And back the other way.
  ASSERT_TRUE(p.b->SendBuffer(MakeInt(0)).ok());
  EXPECT_EQ(Repr(p.a->RecvBuffer(Within(absl::Seconds(10))).value()), "0");
}

TEST_P(BridgeModes, TenThousandValuesBackToBackArriveCompleteAndInOrder) {
  Pair p = Make();
  constexpr int kCount = 10000;
  std::thread sender([&] {
    for (int i = 0; i < kCount; ++i) {
      ASSERT_TRUE(p.a->SendBuffer(MakeList({MakeInt(i), MakeStr("x")})).ok());
    }
  });
  for (int i = 0; i < kCount; ++i) {
    absl::StatusOr<Value> v = p.b->RecvBuffer(Within(absl::Seconds(30)));
    ASSERT_TRUE(v.ok()) << i << ": " << v.status();
    ASSERT_EQ(v->list_value().values(0).int_value(), i);
  }
  sender.join();
}

TEST_P(BridgeModes, MessagesOfManySizesArriveIntact) {
  BridgeOptions options;
  options.memory_threshold_bytes = 1 << 20;  // Larger ones go to a file.
  Pair p = Make(options);
  const std::vector<size_t> sizes = {0, 1, 100, 65536 - 20, 65536, 65537,
                                     (1 << 20) - 1, (1 << 20) + 1, 5 << 20};
  std::thread sender([&] {
    for (size_t n : sizes) {
      std::string bytes(n, '\0');
      for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>(i * 31 + n);
      ASSERT_TRUE(p.a->SendBuffer(MakeBytes(bytes)).ok());
    }
  });
  for (size_t n : sizes) {
    absl::StatusOr<ReceivedMessage> m = p.b->RecvRaw(Within(absl::Seconds(30)));
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->in_file(), m->size() > (1u << 20)) << n;
    absl::StatusOr<Value> v = DecodeValue(m->ReadAll().value(), ValueLimits{100, 64 << 20});
    ASSERT_TRUE(v.ok()) << v.status();
    ASSERT_EQ(v->bytes_value().size(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(v->bytes_value()[i], static_cast<char>(i * 31 + n)) << n << "@" << i;
    }
  }
  sender.join();
}

TEST_P(BridgeModes, SenderRefusesAMessageOverItsOwnLimitAndSendsTheNext) {
  BridgeOptions small;
  small.max_message_bytes = 100000;
  Pair p = Make(small);
  absl::Status s = p.a->SendBuffer(MakeBytes(std::string(200000, 'x')));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("exceeds max_message_bytes 100000"));
  ASSERT_TRUE(p.a->SendBuffer(MakeStr("next")).ok());
  EXPECT_EQ(Repr(p.b->RecvBuffer(Within(absl::Seconds(10))).value()), "'next'");
}

TEST_P(BridgeModes, ReceiverLimitDiscardsOnlyThatMessage) {
  SocketPair s = ConnectedSockets(std::get<1>(GetParam()));
  std::shared_ptr<transport::EventLoop> loop = OneLoop();
  std::optional<FernetKey> k;
  if (std::get<0>(GetParam())) k = FernetKey::Generate().value();
  BridgeOptions big, small;
  big.max_message_bytes = 10 << 20;
  small.max_message_bytes = 100000;
  auto a = Bridge::Adopt(std::move(s.a), loop, Bridge::Role::kClient, k, k, big);
  auto b = Bridge::Adopt(std::move(s.b), loop, Bridge::Role::kServer, k, k, small);
  ASSERT_TRUE(a->SendBuffer(MakeStr("before")).ok());
  ASSERT_TRUE(a->SendBuffer(MakeBytes(std::string(3 << 20, 'x'))).ok());
  ASSERT_TRUE(a->SendBuffer(MakeStr("after")).ok());
  EXPECT_EQ(Repr(b->RecvBuffer(Within(absl::Seconds(10))).value()), "'before'");
  absl::StatusOr<Value> too_big = b->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(too_big.status().message()),
              HasSubstr("exceeds max_message_bytes 100000"));
  EXPECT_THAT(std::string(too_big.status().message()), HasSubstr("3145"));
  EXPECT_FALSE(IsConnectionEnd(too_big.status()));
  EXPECT_EQ(Repr(b->RecvBuffer(Within(absl::Seconds(10))).value()), "'after'");
}

TEST_P(BridgeModes, MaxBytesKeepsTheMessageQueued) {
  Pair p = Make();
  ASSERT_TRUE(p.a->SendBuffer(MakeBytes(std::string(5000, 'y'))).ok());
  RecvOptions o = Within(absl::Seconds(10));
  o.max_bytes = 100;
  absl::StatusOr<Value> v = p.b->RecvBuffer(o);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kResourceExhausted);
  o.max_bytes = 0;
  EXPECT_EQ(p.b->RecvBuffer(o)->bytes_value().size(), 5000u);
}

TEST_P(BridgeModes, TimeoutIsDeadlineExceeded) {
  Pair p = Make();
  const absl::Time start = absl::Now();
  EXPECT_EQ(p.b->RecvBuffer(Within(absl::Milliseconds(50))).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
}

TEST_P(BridgeModes, CleanCloseDeliversEverythingThenEndOfStream) {
  Pair p = Make();
  ASSERT_TRUE(p.a->SendBuffer(MakeInt(1)).ok());
  ASSERT_TRUE(p.a->SendBuffer(MakeInt(2)).ok());
  p.a->Close();
  EXPECT_EQ(p.b->RecvBuffer(Within(absl::Seconds(10)))->int_value(), 1);
  EXPECT_EQ(p.b->RecvBuffer(Within(absl::Seconds(10)))->int_value(), 2);
  absl::StatusOr<Value> end = p.b->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(end.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(IsConnectionEnd(end.status()));
  const absl::Status after_close = p.a->SendBuffer(MakeInt(3));
  EXPECT_EQ(after_close.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsConnectionEnd(after_close));
}

TEST_P(BridgeModes, LostConnectionIsUnavailable) {
  Pair p = Make();
  ASSERT_TRUE(p.a->SendBuffer(MakeInt(7)).ok());
  p.a->Abort(absl::CancelledError("test abort"));  // No GOAWAY.
  EXPECT_EQ(p.b->RecvBuffer(Within(absl::Seconds(10)))->int_value(), 7);
  EXPECT_EQ(p.b->RecvBuffer(Within(absl::Seconds(10))).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_P(BridgeModes, TypedMessagesTravelToo) {
  Pair p = Make();
  Value v = MakeList({MakeInt(1), MakeStr("typed")});
  ASSERT_TRUE(p.a->SendBuffer(static_cast<const google::protobuf::Message&>(v)).ok());
  ASSERT_TRUE(p.a->SendBuffer(MakeInt(5)).ok());
  // Asking for a Value when a typed message is next: INVALID_ARGUMENT, consumed.
  Value out;
  ASSERT_TRUE(p.b->RecvBuffer(&out, Within(absl::Seconds(10))).ok());
  EXPECT_TRUE(ValuesEqual(out, v));
  Value wrong;
  EXPECT_EQ(p.b->RecvBuffer(&wrong, Within(absl::Seconds(10))).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(BridgeModes, FlowControlBoundsWhatAnUnreadReceiverHolds) {
  BridgeOptions options;
  options.max_inbox_bytes = 1 << 20;
  Pair p = Make(options);
  std::atomic<int> sent{0};
  std::thread sender([&] {
    for (int i = 0; i < 400; ++i) {
      if (!p.a->SendBuffer(MakeBytes(std::string(256 << 10, 'z'))).ok()) return;
      ++sent;
    }
  });
  absl::SleepFor(absl::Milliseconds(500));
  // 400 x 256 KiB = 100 MiB offered; the window (16 MiB) and inbox limit
  // (1 MiB) hold the sender back long before that.
  EXPECT_LT(sent.load(), 100);
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(p.b->RecvBuffer(Within(absl::Seconds(30))).ok()) << i;
  }
  sender.join();
  EXPECT_EQ(sent.load(), 400);
}

TEST_P(BridgeModes, GarbageFromThePeerIsDataLossAndDeliversNothing) {
  SocketPair s = ConnectedSockets(std::get<1>(GetParam()));
  std::shared_ptr<transport::EventLoop> loop = OneLoop();
  std::optional<FernetKey> k;
  if (std::get<0>(GetParam())) k = FernetKey::Generate().value();
  auto b = Bridge::Adopt(std::move(s.b), loop, Bridge::Role::kServer, k, k, {});
  std::string junk;
  ASSERT_TRUE(transport::AppendFrame(std::string(100, '\x80'), &junk).ok());
  ASSERT_TRUE(transport::WriteAll(s.a.fd(), junk, absl::Now() + absl::Seconds(5)).ok());
  absl::StatusOr<Value> v = b->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
}

// RESOURCE_EXHAUSTED means "that message was too large" (8.1) and also
// "a frame over max_frame_bytes ended the connection" (3): IsConnectionEnd
// tells them apart, every call after the end returns the end, and the peer
// gets a GOAWAY with the code and reason before the close (8.3).
TEST_P(BridgeModes, TheEndOfTheConnectionIsToldApartFromOneFailedMessage) {
  SocketPair s = ConnectedSockets(std::get<1>(GetParam()));
  std::shared_ptr<transport::EventLoop> loop = OneLoop();
  std::optional<FernetKey> k;
  if (std::get<0>(GetParam())) k = FernetKey::Generate().value();
  BridgeOptions small;
  small.max_message_bytes = 100;
  auto b = Bridge::Adopt(std::move(s.b), loop, Bridge::Role::kServer, k, k, small);
  // The peer's side by hand: one message over b's limit, then a length
  // prefix over any frame limit.
  transport::FrameSealer sealer = k.has_value() ? transport::FrameSealer::Secure(*k)
                                                : transport::FrameSealer::Insecure();
  std::string message(transport::kMessageHeaderBytes, '\0');
  transport::big_endian::Store64(200, message.data());
  message[8] = static_cast<char>(transport::MessageKind::kValue);
  message += std::string(200, 'x');
  std::string wire;
  ASSERT_TRUE(sealer.Seal(transport::kBridgeStreamId, transport::FrameType::kData,
                          transport::kFlagEndMessage, message, false, 0, &wire)
                  .ok());
  wire += "\xff\xff\xff\xff";
  ASSERT_TRUE(transport::WriteAll(s.a.fd(), wire, absl::Now() + absl::Seconds(5)).ok());

  absl::StatusOr<Value> too_big = b->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(IsConnectionEnd(too_big.status())) << too_big.status();
  absl::StatusOr<Value> end = b->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(end.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(IsConnectionEnd(end.status())) << end.status();
  EXPECT_THAT(std::string(end.status().message()), HasSubstr("exceeds"));
  for (int i = 0; i < 3; ++i) {  // Every later call: the same end, at once.
    absl::StatusOr<Value> again = b->RecvBuffer(Within(absl::Seconds(10)));
    EXPECT_TRUE(IsConnectionEnd(again.status()));
    EXPECT_EQ(again.status().message(), end.status().message());
  }
  EXPECT_TRUE(IsConnectionEnd(b->SendBuffer(MakeInt(1))));
  EXPECT_FALSE(IsConnectionEnd(absl::DeadlineExceededError("x")));
  EXPECT_FALSE(IsConnectionEnd(absl::OkStatus()));

  // What the peer read: a GOAWAY with the code and reason, then the close.
  std::string received;
  char buf[4096];
  for (;;) {
    ASSERT_TRUE(transport::WaitReadable(s.a.fd(), absl::Now() + absl::Seconds(10)));
    const ssize_t n = recv(s.a.fd(), buf, sizeof(buf), 0);
    if (n <= 0) break;
    received.append(buf, static_cast<size_t>(n));
  }
  transport::FrameDecoder decoder;
  decoder.Feed(received);
  transport::FrameOpener opener = k.has_value() ? transport::FrameOpener::Secure(*k)
                                                : transport::FrameOpener::Insecure();
  std::optional<transport::OpenedFrame> goaway;
  for (;;) {
    absl::StatusOr<std::optional<std::string>> body = decoder.Next();
    ASSERT_TRUE(body.ok()) << body.status();
    if (!body->has_value()) break;
    absl::StatusOr<transport::OpenedFrame> frame = opener.Open(**body);
    ASSERT_TRUE(frame.ok()) << frame.status();
    if (frame->header.type == transport::FrameType::kGoAway) goaway = *frame;
  }
  ASSERT_TRUE(goaway.has_value());
  ASSERT_FALSE(goaway->payload.empty());
  EXPECT_EQ(static_cast<absl::StatusCode>(goaway->payload[0]),
            absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(goaway->payload.substr(1), HasSubstr("exceeds"));
}

// A GOAWAY says nothing of what its sender read unless it answers ours
// (flag ACK, docs/PROTOCOL.md 8.3): a peer that sends GOAWAY right after
// the handshake and never reads does not confirm our messages. (Close used
// to return OK for any GOAWAY, so `send` reported delivery it never had.)
TEST_P(BridgeModes, APeersOwnGoAwayDoesNotConfirmDelivery) {
  SocketPair s = ConnectedSockets(std::get<1>(GetParam()));
  std::shared_ptr<transport::EventLoop> loop = OneLoop();
  std::optional<FernetKey> k;
  if (std::get<0>(GetParam())) k = FernetKey::Generate().value();
  auto a = Bridge::Adopt(std::move(s.a), loop, Bridge::Role::kClient, k, k, {});
  transport::FrameSealer peer = k.has_value() ? transport::FrameSealer::Secure(*k)
                                              : transport::FrameSealer::Insecure();
  std::string goaway;
  ASSERT_TRUE(peer.Seal(transport::kConnectionStreamId, transport::FrameType::kGoAway,
                        0, std::string(1, '\0'), false, 0, &goaway)
                  .ok());
  ASSERT_TRUE(transport::WriteAll(s.b.fd(), goaway, absl::Now() + absl::Seconds(5)).ok());
  (void)a->SendBuffer(MakeInt(1));  // Never read by the peer.
  const absl::Status closed = a->Close(absl::Seconds(10));
  EXPECT_EQ(closed.code(), absl::StatusCode::kUnavailable) << closed;
  EXPECT_THAT(std::string(closed.message()), HasSubstr("not confirmed"));

  // The same peer answering our GOAWAY (with ACK) confirms it.
  SocketPair t = ConnectedSockets(std::get<1>(GetParam()));
  auto c = Bridge::Adopt(std::move(t.a), loop, Bridge::Role::kClient, k, k, {});
  std::thread answer([&] {
    transport::FrameSealer sealer = k.has_value() ? transport::FrameSealer::Secure(*k)
                                                  : transport::FrameSealer::Insecure();
    absl::StatusOr<std::string> first =
        transport::ReadOneFrame(t.b.fd(), absl::Now() + absl::Seconds(10));
    if (!first.ok()) return;  // c's GOAWAY (the first frame c sends).
    std::string reply;
    (void)sealer.Seal(transport::kConnectionStreamId, transport::FrameType::kGoAway,
                      transport::kFlagAck, std::string(1, '\0'), false, 0, &reply);
    (void)transport::WriteAll(t.b.fd(), reply, absl::Now() + absl::Seconds(5));
  });
  EXPECT_TRUE(c->Close(absl::Seconds(10)).ok());
  answer.join();
}

TEST_P(BridgeModes, SilentPeerTripsTheKeepalive) {
  SocketPair s = ConnectedSockets(std::get<1>(GetParam()));
  std::shared_ptr<transport::EventLoop> loop = OneLoop();
  BridgeOptions options;
  options.keepalive_interval = absl::Milliseconds(100);
  options.keepalive_timeout = absl::Milliseconds(100);
  auto b = Bridge::Adopt(std::move(s.b), loop, Bridge::Role::kServer,
                         std::nullopt, std::nullopt, options);
  // s.a never answers the PING.
  absl::StatusOr<Value> v = b->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("keepalive"));
}

TEST_P(BridgeModes, KeepaliveKeepsAnIdleButLiveConnectionOpen) {
  BridgeOptions options;
  options.keepalive_interval = absl::Milliseconds(50);
  options.keepalive_timeout = absl::Milliseconds(100);
  Pair p = Make(options);
  absl::SleepFor(absl::Milliseconds(600));
  ASSERT_TRUE(p.a->SendBuffer(MakeStr("still here")).ok());
  EXPECT_EQ(Repr(p.b->RecvBuffer(Within(absl::Seconds(10))).value()), "'still here'");
}

TEST_P(BridgeModes, IdleTimeoutClosesWithAReason) {
  BridgeOptions idle;
  idle.idle_timeout = absl::Milliseconds(100);
  SocketPair s = ConnectedSockets(std::get<1>(GetParam()));
  std::shared_ptr<transport::EventLoop> loop = OneLoop();
  auto a = Bridge::Adopt(std::move(s.a), loop, Bridge::Role::kClient,
                         std::nullopt, std::nullopt, {});
  auto b = Bridge::Adopt(std::move(s.b), loop, Bridge::Role::kServer,
                         std::nullopt, std::nullopt, idle);
  absl::StatusOr<Value> v = a->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(v.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("idle_timeout"));
}

TEST_P(BridgeModes, ConcurrentSendersAndReceiversKeepPerSenderOrder) {
  Pair p = Make();
  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  std::vector<std::thread> threads;
  // Both directions at once, several senders each, one receiver each.
  for (Bridge* from : {p.a.get(), p.b.get()}) {
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([from, t] {
        for (int i = 0; i < kEach; ++i) {
          ASSERT_TRUE(from->SendBuffer(MakeTuple({MakeInt(t), MakeInt(i)})).ok());
        }
      });
    }
  }
  for (Bridge* to : {p.b.get(), p.a.get()}) {
    threads.emplace_back([to] {
      std::vector<int> next(kThreads, 0);
      for (int n = 0; n < kThreads * kEach; ++n) {
        absl::StatusOr<Value> v = to->RecvBuffer(Within(absl::Seconds(60)));
        ASSERT_TRUE(v.ok()) << v.status();
        const int t = static_cast<int>(v->tuple_value().values(0).int_value());
        const int i = static_cast<int>(v->tuple_value().values(1).int_value());
        ASSERT_EQ(i, next[t]++) << "sender " << t;
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

INSTANTIATE_TEST_SUITE_P(
    All, BridgeModes,
    ::testing::Combine(::testing::Bool(), ::testing::Values("127.0.0.1", "[::1]")),
    [](const auto& info) {
      return absl::StrCat(std::get<0>(info.param) ? "Fernet" : "Insecure",
                          std::get<1>(info.param) == "127.0.0.1" ? "V4" : "V6");
    });

}  // namespace
}  // namespace netstructer
