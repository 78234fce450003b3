// The C++ end of the Python interop tests (tests/python/*_test.py), for what
// the CLI cannot do: large payloads both ways.
//
//   echo_peer serve KEY_FILE
//     Serves on 127.0.0.1, any port; prints "listening on IP:PORT" on stdout;
//     sends every buffer it receives back to its sender, until killed.
//   echo_peer link HOST:PORT KEY_FILE BYTES (random|pattern)
//     Sends a bytes value of BYTES bytes (random bytes, or a repeating
//     text that lz4 compresses), reads the echo, checks it is the same
//     value, closes; exit 0 and "echoed N bytes", else 1 and the error.
//   echo_peer cancel HOST:PORT KEY_FILE
//     Opens greeter.Greeter/SayHelloStream, sends one name, reads its reply,
//     then cancels the call from this side (ClientContext::TryCancel); exit
//     0 and "cancelled: CODE" when the next Read reports CANCELLED.
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "examples/greeter/greeter.ns.h"
#include "netstructer/client/channel.h"
#include "netstructer/client/client_context.h"
#include "netstructer/proto/value.h"
#include "netstructer/proto/value_compare.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/key_file.h"

namespace {

using netstructer::Bridge;
using netstructer::Value;

int Fail(const absl::Status& status) {
  std::cerr << "echo_peer: " << status << std::endl;
  return 1;
}

std::string Payload(size_t n, bool random) {
  std::string out(n, '\0');
  if (random) {
    std::mt19937_64 bits(20261206);
    for (char& c : out) c = static_cast<char>(bits());
  } else {
    const std::string text = "NetStructer compresses repeating text. ";
    for (size_t i = 0; i < n; ++i) out[i] = text[i % text.size()];
  }
  return out;
}

void Echo(std::shared_ptr<Bridge> bridge) {
  for (;;) {
    absl::StatusOr<Value> value = bridge->RecvBuffer();
    if (!value.ok()) return;  // The peer closed, or the connection ended.
    if (!bridge->SendBuffer(*value).ok()) return;
  }
}

int Serve(const std::string& key_file) {
  auto keys = netstructer::transport::LoadKeyFile(key_file);
  if (!keys.ok()) return Fail(keys.status());
  netstructer::ServerOptions options;
  options.keys = *keys;
  netstructer::Server server("127.0.0.1:0", options);
  if (absl::Status s = server.Init(); !s.ok()) return Fail(s);
  std::cout << "listening on " << server.address() << std::endl;
  absl::Status s = server.ListenOn([](netstructer::Server& self) {
    for (;;) {
      auto bridge = self.Accept();
      if (!bridge.ok()) return;
      std::thread(Echo, *std::move(bridge)).detach();
    }
  });
  return s.ok() ? 0 : Fail(s);
}

int LinkAndCheck(const std::string& to, const std::string& key_file,
                 const std::string& bytes, const std::string& kind) {
  size_t n = 0;
  if (!absl::SimpleAtoi(bytes, &n) || (kind != "random" && kind != "pattern")) {
    return Fail(absl::InvalidArgumentError("usage: link HOST:PORT KEY_FILE BYTES "
                                           "(random|pattern)"));
  }
  auto keys = netstructer::transport::LoadKeyFile(key_file);
  if (!keys.ok()) return Fail(keys.status());
  netstructer::LinkOptions options;
  options.key = keys->front();
  auto bridge = Bridge::Link(to, options);
  if (!bridge.ok()) return Fail(bridge.status());
  const Value sent = netstructer::MakeBytes(Payload(n, kind == "random"));
  if (absl::Status s = (*bridge)->SendBuffer(sent); !s.ok()) return Fail(s);
  absl::StatusOr<Value> echoed = (*bridge)->RecvBuffer();
  if (!echoed.ok()) return Fail(echoed.status());
  if (!netstructer::ValuesEqual(sent, *echoed)) {
    return Fail(absl::DataLossError("the echo differs from what was sent"));
  }
  if (absl::Status s = (*bridge)->Close(); !s.ok()) return Fail(s);
  std::cout << "echoed " << n << " bytes" << std::endl;
  return 0;
}

int CancelAStream(const std::string& to, const std::string& key_file) {
  auto keys = netstructer::transport::LoadKeyFile(key_file);
  if (!keys.ok()) return Fail(keys.status());
  netstructer::ChannelOptions options;
  options.link.key = keys->front();
  auto channel = netstructer::Channel::Create(to, options);
  if (!channel.ok()) return Fail(channel.status());
  greeter::Greeter::Stub stub(*channel);
  netstructer::ClientContext context;
  auto stream = stub.SayHelloStream(&context);
  greeter::HelloRequest request;
  request.set_name("first");
  if (absl::Status s = stream->Write(request); !s.ok()) return Fail(s);
  greeter::HelloReply reply;
  absl::StatusOr<bool> read = stream->Read(&reply);
  if (!read.ok()) return Fail(read.status());
  if (!*read || reply.message() != "Hello, first") {
    return Fail(absl::DataLossError("no reply to the first name"));
  }
  context.TryCancel();
  read = stream->Read(&reply);
  if (read.ok()) return Fail(absl::InternalError("the call went on after TryCancel"));
  std::cout << "cancelled: " << absl::StatusCodeToString(read.status().code())
            << std::endl;
  return read.status().code() == absl::StatusCode::kCancelled ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "serve" && argc == 3) return Serve(argv[2]);
  if (mode == "cancel" && argc == 4) return CancelAStream(argv[2], argv[3]);
  if (mode == "link" && argc == 6) {
    return LinkAndCheck(argv[2], argv[3], argv[4], argv[5]);
  }
  std::cerr << "usage: echo_peer serve KEY_FILE\n"
               "       echo_peer link HOST:PORT KEY_FILE BYTES (random|pattern)\n"
               "       echo_peer cancel HOST:PORT KEY_FILE\n";
  return 2;
}
