// `netstructer demo`: the codecs of docs/PROTOCOL.md at work, in one process,
// on the README's example values: a server and clients on loopback, the
// frames under the hood, then RPC (tools/demo.proto) on the same transport.
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "netstructer/client/channel.h"
#include "netstructer/proto/python_literal.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/terminal_text.h"
#include "netstructer/proto/value_codec.h"
#include "netstructer/service/server.h"
#include "netstructer/tools/descriptor_source.h"
#include "netstructer/tools/dynamic_call.h"
#include "netstructer/tools/reflection_client.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_sealer.h"
#include "service/builtin/health.ns.h"
#include "tools/commands.h"
#include "tools/demo.ns.h"

namespace netstructer::tools {
namespace {

using transport::FernetKey;
using transport::FrameDecoder;
using transport::FrameOpener;
using transport::FrameSealer;
using transport::FrameType;

constexpr int64_t kDemoStream = 1;

const char* const kLiterals[] = {
    "['hi im haytam',128,{b'gg':'gg'},{1,2,6,4},(False,True)]",
    "0", "''", "[]", "None", "False", "b''",
    "{'nested': [(1,), {'a': {b'\\x00\\xff'}}], 'pi': 3.14159, 'big': -9223372036854775808}",
};

// Shortens a long repr for one terminal line.
std::string Clip(std::string text, size_t width = 76) {
  if (text.size() > width) text = text.substr(0, width - 4) + " ...";
  return text;
}

struct Received {
  std::vector<std::string> reprs;  // One per frame, in order.
  absl::Status status;             // The first error, or OK at a clean end.
};

// Feeds `wire` to a decoder one byte at a time, the worst TCP can do, and
// opens and decodes every frame until the first error.
Received Receive(const std::string& wire, FrameOpener* opener) {
  Received r;
  FrameDecoder decoder;
  for (char c : wire) {
    decoder.Feed(absl::string_view(&c, 1));
    for (;;) {
      absl::StatusOr<std::optional<std::string>> body = decoder.Next();
      if (!body.ok()) return {r.reprs, body.status()};
      if (!body->has_value()) break;
      absl::StatusOr<transport::OpenedFrame> frame = opener->Open(**body);
      if (!frame.ok()) return {r.reprs, frame.status()};
      absl::StatusOr<Value> value = DecodeValue(frame->payload);
      if (!value.ok()) return {r.reprs, value.status()};
      r.reprs.push_back(Repr(*value));
    }
  }
  r.status = decoder.Finish();
  return r;
}

std::string Outcome(const Received& r) {
  return absl::StrCat(r.reprs.size(), " value(s), then ",
                      StatusForTerminal(r.status));
}

// A server and clients on loopback: values travel, then the errors.
int NetworkDemo(const FernetKey& key, Io io) {
  ServerOptions options;
  options.keys = {key};
  options.policy.deny = {service::CidrRange::Parse("127.0.0.2/32").value()};
  Server server("127.0.0.1:0", options);
  if (absl::Status s = server.Init(); !s.ok()) {
    return StatusError(io, s);
  }
  io.out << "NetStructer demo: a server on " << server.address()
         << " (fresh key; policy: deny 127.0.0.2/32)\nand clients on loopback.\n\n"
         << "1. A client links, sends the README's values and a few falsy ones;"
            "\n   the server prints what it receives (peer IP, Python repr):\n";
  std::vector<std::string> received;
  std::thread accept_thread([&] {
    (void)server.ListenOn([&](Server& s) {
      absl::StatusOr<std::shared_ptr<Bridge>> session = s.Accept(absl::Seconds(10));
      if (!session.ok()) return;
      for (;;) {
        absl::StatusOr<Value> value = (*session)->RecvBuffer();
        if (value.ok()) {
          io.out << "  server got: " << (*session)->peer_ip() << " "
                 << Repr(*value) << "\n";
        } else if (IsConnectionEnd(value.status())) {
          return;  // End of stream after the client's close.
        } else {  // That message alone failed.
          io.out << "  server got an error: "
                 << StatusForTerminal(value.status()) << "\n";
        }
      }
    });
  });
  LinkOptions link;
  link.key = key;
  absl::StatusOr<std::shared_ptr<Bridge>> client = Bridge::Link(server.address(), link);
  if (!client.ok()) {
    accept_thread.detach();
    return StatusError(io, client.status());
  }
  for (const char* literal : kLiterals) {
    if (absl::Status s = (*client)->SendBuffer(ParseLiteral(literal).value()); !s.ok()) {
      accept_thread.detach();
      return StatusError(io, s);
    }
  }
  absl::Status closed = (*client)->Close();
  accept_thread.join();
  io.out << "  client close: " << (closed.ok() ? "the server confirmed receipt"
                                               : StatusForTerminal(closed))
         << "\n\n2. A client with the wrong key:\n  ";
  LinkOptions wrong = link;
  wrong.key = FernetKey::Generate().value();
  io.out << StatusForTerminal(Bridge::Link(server.address(), wrong).status())
         << "\n\n3. A client from a denied address (127.0.0.2):\n  ";
  LinkOptions denied = link;
  denied.local_address = "127.0.0.2:0";
  io.out << StatusForTerminal(Bridge::Link(server.address(), denied).status())
         << "\n";
  server.Shutdown();
  return kExitOk;
}

// The demo's Greeter. Thread-safe (stateless).
class DemoGreeter final : public demo::Greeter::Service {
 public:
  absl::Status SayHello(ServerContext* context,
                        const demo::HelloRequest* request,
                        demo::HelloReply* reply) override {
    if (request->name().empty()) {
      return absl::InvalidArgumentError("name is empty");
    }
    reply->set_message(absl::StrCat("Hello, ", request->name(), "!"));
    return absl::OkStatus();
  }
  absl::Status CountTo(ServerContext* context,
                       const demo::CountRequest* request,
                       ServerWriter<demo::CountReply>* writer) override {
    if (request->up_to() < 0 || request->up_to() > 100) {
      return absl::InvalidArgumentError("up_to must be in [0, 100]");
    }
    demo::CountReply reply;
    for (int32_t n = 1; n <= request->up_to(); ++n) {
      reply.set_n(n);
      if (absl::Status s = writer->Write(reply); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
};

// What `netstructer call SERVICE/METHOD JSON` prints, without the newline.
absl::StatusOr<std::string> CallLikeTheCli(std::shared_ptr<Channel> channel,
                                           const std::string& service,
                                           const std::string& method,
                                           const std::string& json) {
  std::unique_ptr<DescriptorSource> types =
      DescriptorSource::FromReflection(channel, CallOptions());
  if (absl::Status s = types->Load(service); !s.ok()) return s;
  const google::protobuf::MethodDescriptor* m =
      types->pool()->FindMethodByName(service + "." + method);
  if (m == nullptr) return absl::NotFoundError(service + "." + method);
  std::istringstream input(json);
  std::ostringstream out;
  std::ostringstream err;
  absl::Status s = RunDynamicCall(channel.get(), *m, &input, true, CallOptions(),
                                  OutputFormat(), false, out, err);
  if (!s.ok()) return s;
  return std::string(absl::StripSuffix(out.str(), "\n"));
}

// RPC on the same transport: typed calls, a stream, the built-in services.
int RpcDemo(const FernetKey& key, Io io) {
  DemoGreeter greeter;
  ServerOptions options;
  options.keys = {key};
  Server server("127.0.0.1:0", options);
  absl::Status s = server.RegisterService(&greeter);
  if (s.ok()) s = server.Init();
  if (s.ok()) s = server.Listen();
  ChannelOptions channel_options;
  channel_options.link.key = key;
  absl::StatusOr<std::shared_ptr<Channel>> channel =
      s.ok() ? Channel::Create(server.address(), channel_options) : s;
  if (!channel.ok()) {
    return StatusError(io, channel.status());
  }
  io.out << "\n7. RPC on the same encrypted transport: a Greeter "
            "(tools/demo.proto) on\n   "
         << server.address()
         << ", with the built-in health and reflection services:\n";
  auto line = [io](absl::string_view call, absl::string_view result) {
    io.out << absl::StrFormat("  %-31s -> %s\n", call, result);
  };
  demo::Greeter::Stub stub(*channel);
  demo::HelloRequest hello;
  hello.set_name("haytam");
  absl::StatusOr<demo::HelloReply> reply = stub.SayHello(hello);
  line("unary  SayHello(name: \"haytam\")",
       reply.ok() ? absl::StrCat("\"", reply->message(), "\"")
                  : reply.status().ToString());
  demo::CountRequest count;
  count.set_up_to(3);
  std::unique_ptr<ClientReader<demo::CountReply>> reader = stub.CountTo(count);
  std::vector<std::string> got;
  demo::CountReply n;
  absl::StatusOr<bool> more;
  while ((more = reader->Read(&n)).ok() && *more) {
    got.push_back(absl::StrCat(n.n()));
  }
  const absl::Status finished = more.ok() ? reader->Finish() : more.status();
  line("stream CountTo(up_to: 3)",
       absl::StrCat(absl::StrJoin(got, ", "), ", then ", finished.ToString()));
  hello.clear_name();
  line("error  SayHello(name: \"\")", stub.SayHello(hello).status().ToString());
  using health::v1::HealthCheckResponse;
  absl::StatusOr<HealthCheckResponse> check =
      health::v1::Health::Stub(*channel).Check({});
  line("health Check(service: \"\")",
       check.ok() ? HealthCheckResponse::ServingStatus_Name(check->status())
                  : check.status().ToString());
  io.out << "  reflection, as `netstructer list` prints it:\n";
  absl::StatusOr<std::vector<std::string>> methods = ListMethods(*channel, {});
  if (!methods.ok()) {
    io.out << "    " << methods.status() << "\n";
  } else {
    for (const std::string& m : *methods) io.out << "    " << m << "\n";
  }
  const char kJson[] = "{\"name\": \"json\"}";
  absl::StatusOr<std::string> json = CallLikeTheCli(
      *channel, "netstructer.demo.Greeter", "SayHello", kJson);
  io.out << "  and as `netstructer call netstructer.demo.Greeter/SayHello '"
         << kJson << "'`:\n    "
         << (json.ok() ? *json : json.status().ToString()) << "\n";
  channel->reset();
  server.Shutdown();
  if (!reply.ok() || !finished.ok() || got.size() != 3 || !check.ok() ||
      !methods.ok() || !json.ok()) {
    return StatusError(io, absl::InternalError("an RPC step failed (above)"));
  }
  return kExitOk;
}

}  // namespace

const char kDemoUsage[] =
    "usage: netstructer demo\n"
    "Starts a server and clients on loopback with a fresh key and shows\n"
    "values travelling, the errors a hostile stream gets, and RPC.\n";

int RunDemo(const Args& args, Io io) {
  if (!args.empty()) {
    return UsageError(io, "demo", kDemoUsage,
                      "unexpected argument '" + args.front() + "'");
  }
  absl::StatusOr<FernetKey> key = FernetKey::Generate();
  if (!key.ok()) {
    return StatusError(io, key.status());
  }
  if (int rc = NetworkDemo(*key, io); rc != kExitOk) return rc;
  io.out << "\n4. Under the hood: Python literals parsed into "
            "netstructer.Value, encoded and sealed\n   into frames "
            "(docs/PROTOCOL.md):\n";
  FrameSealer sealer = FrameSealer::Secure(*key);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string wire;
  std::vector<size_t> frame_ends;
  for (const char* literal : kLiterals) {
    absl::StatusOr<Value> value = ParseLiteral(literal);
    if (!value.ok()) {
      return StatusError(io, value.status());
    }
    const std::string encoded = EncodeValue(*value);
    const size_t before = wire.size();
    absl::Status s = sealer.Seal(kDemoStream, FrameType::kData,
                                 transport::kFlagEndMessage, encoded,
                                 /*allow_compression=*/true, now, &wire);
    if (!s.ok()) {
      return StatusError(io, s);
    }
    frame_ends.push_back(wire.size());
    io.out << absl::StrFormat("  %-66s %4d B value -> %4d B frame\n",
                              Clip(Repr(*value), 66), encoded.size(),
                              wire.size() - before);
  }
  // A large, compressible value: lz4 runs before Fernet.
  std::string big_literal = "[";
  for (int i = 0; i < 300; ++i) {
    absl::StrAppend(&big_literal, "'request ", i % 10, " served', ");
  }
  big_literal += "]";
  const std::string big = EncodeValue(ParseLiteral(big_literal).value());
  const size_t before = wire.size();
  if (absl::Status s = sealer.Seal(kDemoStream, FrameType::kData,
                                   transport::kFlagEndMessage, big, true, now,
                                   &wire);
      !s.ok()) {
    return StatusError(io, s);
  }
  io.out << absl::StrFormat(
      "  %-66s %4d B value -> %4d B frame (lz4)\n",
      "['request 0 served', 'request 1 served', ...] (300 strings)",
      big.size(), wire.size() - before);

  io.out << "\n5. The wire, fed back one byte at a time, opened and decoded:\n";
  FrameOpener opener = FrameOpener::Secure(*key);
  const Received all = Receive(wire, &opener);
  for (size_t i = 0; i < all.reprs.size(); ++i) {
    io.out << "  frame " << i << ": " << Clip(all.reprs[i]) << "\n";
  }
  if (!all.status.ok()) return StatusError(io, all.status);
  if (all.reprs.size() != frame_ends.size() + 1) {
    return StatusError(io, absl::InternalError(absl::StrCat(
                               "decoded ", all.reprs.size(), " frames, expected ",
                               frame_ends.size() + 1)));
  }

  io.out << "\n6. What a hostile or broken stream gets (a clear error, never a "
            "wrong value):\n";
  const std::string first = wire.substr(0, frame_ends[0]);
  std::string tampered = first;
  tampered[tampered.size() / 2] ^= 0x01;
  FrameOpener fresh = FrameOpener::Secure(*key);
  io.out << "  one flipped byte:    " << Outcome(Receive(tampered, &fresh))
         << "\n";
  FrameOpener replay = FrameOpener::Secure(*key);
  io.out << "  a replayed frame:    "
         << Outcome(Receive(first + first, &replay)) << "\n";
  FrameOpener wrong = FrameOpener::Secure(FernetKey::Generate().value());
  io.out << "  the wrong key:       " << Outcome(Receive(first, &wrong))
         << "\n";
  FrameOpener cut = FrameOpener::Secure(*key);
  io.out << "  a truncated stream:  "
         << Outcome(Receive(first.substr(0, first.size() - 3), &cut)) << "\n";
  io.out << "  a bad literal:       " << ParseLiteral("[1, 2").status() << "\n";
  io.out << "  an unhashable key:   " << ParseLiteral("{[1]: 2}").status()
         << "\n";
  return RpcDemo(*key, io);
}

}  // namespace netstructer::tools
