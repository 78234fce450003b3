// Test helper for kill_test: leaves three calls of the Echo service
// (tests/rpc/echo.proto) in the middle, then waits to be killed:
//   Chat  (bidi)             after three requests and their echoes;
//   Sum   (client streaming) after two requests;
//   Range (server streaming) of 16 KiB replies, read only up to the first,
//                            so that the server's writer blocks on credit.
//
// Usage: kill_test_client ADDRESS KEY_FILE
// Prints "streaming" on stderr once all three are under way (or "client:
// ERROR" and exits 1).
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "netstructer/client/channel.h"
#include "netstructer/transport/key_file.h"
#include "tests/rpc/echo.ns.h"

namespace {

using netstructer::test::rpc::EchoReply;
using netstructer::test::rpc::EchoRequest;

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "client: %s: %s\n", what.c_str(),
               status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: kill_test_client ADDRESS KEY_FILE\n");
    return 2;
  }
  absl::StatusOr<std::vector<netstructer::transport::FernetKey>> keys =
      netstructer::transport::LoadKeyFile(argv[2]);
  if (!keys.ok()) return Fail("key file", keys.status());
  netstructer::ChannelOptions options;
  options.link.key = keys->front();
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      netstructer::Channel::Create(argv[1], options);
  if (!channel.ok()) return Fail("connect", channel.status());
  netstructer::test::rpc::Echo::Stub stub(*channel);
  netstructer::CallOptions call;
  call.timeout = absl::Minutes(10);  // The test kills us long before.

  EchoRequest request;
  EchoReply reply;
  auto chat = stub.Chat(call);
  for (int i = 0; i < 3; ++i) {
    request.set_n(i);
    if (absl::Status s = chat->Write(request); !s.ok()) return Fail("Chat", s);
    absl::StatusOr<bool> more = chat->Read(&reply);
    if (!more.ok()) return Fail("Chat", more.status());
  }
  auto sum = stub.Sum(call);
  for (int i = 0; i < 2; ++i) {
    if (absl::Status s = sum->Write(request); !s.ok()) return Fail("Sum", s);
  }
  request.set_count(1000000);
  request.set_payload(std::string(16 << 10, 'x'));
  auto range = stub.Range(request, call);
  absl::StatusOr<bool> more = range->Read(&reply);
  if (!more.ok()) return Fail("Range", more.status());
  std::fprintf(stderr, "streaming\n");
  std::fflush(stderr);
  for (;;) pause();
}
