// The README's C++ snippets, each exactly as README.md shows it between
// "// README snippet N" and "// end of README snippet" (at any indentation:
// readme_snippets_match_test checks every ```c++ block of README.md is
// here), compiled with the context a real program gives them, and their
// error paths run.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/client/client_context.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/connection_end.h"
#include "examples/greeter/greeter.ns.h"

// README snippet 1
#include "netstructer/proto/python_literal.h"  // netstructer::ParseLiteral
#include "netstructer/transport/bridge.h"      // netstructer::Bridge, LinkOptions
#include "netstructer/transport/key_file.h"    // LoadKeyFile

absl::Status SendASet() {
  absl::StatusOr<std::vector<netstructer::transport::FernetKey>> keys =
      netstructer::transport::LoadKeyFile("my.key");
  if (!keys.ok()) return keys.status();  // missing, readable by others, ...
  netstructer::LinkOptions options;
  options.key = keys->front();
  absl::StatusOr<std::shared_ptr<netstructer::Bridge>> bridge =
      netstructer::Bridge::Link("127.0.0.1:9000", options);
  if (!bridge.ok()) return bridge.status();  // UNAVAILABLE, UNAUTHENTICATED, ...
  absl::StatusOr<netstructer::Value> set = netstructer::ParseLiteral("{1, 2, 6, 4}");
  if (!set.ok()) return set.status();
  if (absl::Status s = (*bridge)->SendBuffer(*set); !s.ok()) return s;
  netstructer::RecvOptions recv;
  recv.timeout = absl::Seconds(5);
  absl::StatusOr<netstructer::Value> reply = (*bridge)->RecvBuffer(recv);
  if (!reply.ok()) return reply.status();  // DEADLINE_EXCEEDED after 5 s
  return (*bridge)->Close();  // confirmed: the server has every message
}
// end of README snippet

namespace readme {

int handled = 0;
void Handle(const netstructer::Value&) { ++handled; }
void LogAndSkip(const absl::Status&) {}

void RecvLoop(const std::shared_ptr<netstructer::Bridge>& session) {
  // README snippet 2
  for (;;) {
    absl::StatusOr<netstructer::Value> value = session->RecvBuffer();
    if (value.ok()) { Handle(*value); continue; }
    if (netstructer::IsConnectionEnd(value.status())) break;  // Why: the status.
    LogAndSkip(value.status());  // That message alone failed; the next is fine.
  }
  // end of README snippet
}

void ServeWithACallback(const std::shared_ptr<netstructer::Bridge>& session) {
  // README snippet 3
  session->SetMessageCallback(
      [](absl::StatusOr<netstructer::ReceivedMessage> m) {
        if (!m.ok()) return;  // One failed message, or the end (IsConnectionEnd).
        absl::StatusOr<std::string> body = m->ReadAll();  // A Value: DecodeValue.
      });
  // end of README snippet
}

}  // namespace readme

// README snippet 4
namespace greeter {

class GreeterService final : public Greeter::Service {
 public:
  absl::Status SayHello(netstructer::ServerContext* context,
                        const HelloRequest* request,
                        HelloReply* reply) override {
    if (request->name().empty()) {
      return absl::InvalidArgumentError("name is empty");
    }
    reply->set_message(absl::StrCat("Hello, ", request->name()));
    return absl::OkStatus();
  }

  absl::Status SayHelloStream(
      netstructer::ServerContext* context,
      netstructer::ServerReaderWriter<HelloReply, HelloRequest>* stream)
      override {
    HelloRequest request;
    HelloReply reply;
    for (;;) {
      absl::StatusOr<bool> more = stream->Read(&request);
      if (!more.ok()) return more.status();  // cancelled, deadline, lost
      if (!*more) return absl::OkStatus();   // the client is done
      reply.set_message(absl::StrCat("Hello, ", request.name()));
      if (absl::Status s = stream->Write(reply); !s.ok()) return s;
    }
  }
};

}  // namespace greeter
// end of README snippet

namespace readme {

int Fail(const absl::Status& status) {
  return 64 + static_cast<int>(status.code());
}

int ServeMain(const std::string& key_file) {
  // README snippet 5
  absl::StatusOr<std::vector<netstructer::transport::FernetKey>> keys =
      netstructer::transport::LoadKeyFile(key_file);
  if (!keys.ok()) return Fail(keys.status());
  netstructer::ServerOptions options;
  options.keys = *keys;
  greeter::GreeterService service;  // must outlive the server
  netstructer::Server server("127.0.0.1:50051", options);
  absl::Status s = server.RegisterService(&service);
  if (s.ok()) s = server.Init();
  if (s.ok()) s = server.Listen();
  if (!s.ok()) return Fail(s);
  // ... wait for SIGINT/SIGTERM (sigwait) ...
  server.Shutdown(absl::Seconds(1));  // calls in flight get a second
  // end of README snippet
  return 0;
}

int ClientMain(const std::string& key_file) {
  // README snippet 6
  absl::StatusOr<std::vector<netstructer::transport::FernetKey>> keys =
      netstructer::transport::LoadKeyFile(key_file);
  if (!keys.ok()) return Fail(keys.status());
  netstructer::ChannelOptions channel_options;
  channel_options.link.key = keys->front();
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> connected =
      netstructer::Channel::Create("127.0.0.1:50051", channel_options);
  if (!connected.ok()) return Fail(connected.status());
  std::shared_ptr<netstructer::Channel> channel = *connected;
  greeter::Greeter::Stub stub(channel);

  netstructer::CallOptions options;
  options.timeout = absl::Seconds(10);  // DEADLINE_EXCEEDED after it
  greeter::HelloRequest request;
  request.set_name("World");
  absl::StatusOr<greeter::HelloReply> reply = stub.SayHello(request, options);

  auto stream = stub.SayHelloStream(options);  // Write..., WritesDone, Read..., Finish
  // end of README snippet
  return reply.ok() && stream != nullptr ? 0 : 1;
}

int GrpcShapes(std::shared_ptr<netstructer::Channel> channel,
               const greeter::HelloRequest& request) {
  // README snippet 7
  std::unique_ptr<greeter::Greeter::Stub> stub = greeter::Greeter::NewStub(channel);
  netstructer::ClientContext context;
  context.set_timeout(absl::Seconds(10));
  absl::StatusOr<greeter::HelloReply> reply = stub->SayHello(&context, request);
  if (!reply.ok()) { /* reply.status(): code and message */ }
  // end of README snippet
  return 0;
}

TEST(ReadmeSnippets, WithoutTheirKeyFileTheyReturnItsErrorAndSendNothing) {
  // my.key does not exist in the test's directory: each snippet reports
  // the key file's error as its status.
  const absl::Status sent = SendASet();
  EXPECT_EQ(sent.code(), absl::StatusCode::kNotFound) << sent;
  EXPECT_EQ(ServeMain("/nonexistent.key"), Fail(absl::NotFoundError("")));
  EXPECT_EQ(ClientMain("/nonexistent.key"), Fail(absl::NotFoundError("")));
}

TEST(ReadmeSnippets, TheTutorialsServiceAnswersTheGrpcShapedCall) {
  greeter::GreeterService service;
  netstructer::ServerOptions options;
  options.insecure = true;
  netstructer::Server server("127.0.0.1:0", options);
  ASSERT_TRUE(server.RegisterService(&service).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  netstructer::ChannelOptions channel_options;
  channel_options.link.insecure = true;
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      netstructer::Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  greeter::HelloRequest request;
  request.set_name("README");
  EXPECT_EQ(GrpcShapes(*channel, request), 0);
  greeter::Greeter::Stub stub(*channel);
  absl::StatusOr<greeter::HelloReply> reply = stub.SayHello(request, {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->message(), "Hello, README");
  server.Shutdown(absl::Seconds(1));
}

}  // namespace readme
