// NetStructer from another workspace: a Server with a Calculator service on
// 127.0.0.1:0 and a call through the generated stub, in one process.
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "calc/calc.ns.h"
#include "calc/calculator_service.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/client/client_context.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/fernet.h"

namespace calc {
namespace {

TEST(CalculatorTest, AddThroughTheGeneratedStub) {
  const netstructer::transport::FernetKey key =
      netstructer::transport::FernetKey::Generate().value();
  CalculatorService service;  // Outlives the server (declared first).
  netstructer::ServerOptions server_options;
  server_options.keys = {key};
  netstructer::Server server("127.0.0.1:0", server_options);
  ASSERT_TRUE(server.RegisterService(&service).ok());
  absl::Status s = server.Init();
  ASSERT_TRUE(s.ok()) << s;
  s = server.Listen();
  ASSERT_TRUE(s.ok()) << s;

  netstructer::ChannelOptions channel_options;
  channel_options.link.key = key;
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      netstructer::Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Calculator::Stub stub(*channel);

  AddRequest request;
  request.set_a(2);
  request.set_b(40);
  netstructer::CallOptions options;
  options.timeout = absl::Seconds(5);
  absl::StatusOr<AddReply> reply = stub.Add(request, options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->sum(), 42);

  // gRPC's shapes: NewStub and a ClientContext that keeps what came back.
  std::unique_ptr<Calculator::Stub> made = Calculator::NewStub(*channel);
  netstructer::ClientContext context;
  context.set_timeout(absl::Seconds(5));
  absl::StatusOr<AddReply> again = made->Add(&context, request);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->sum(), 42);
  EXPECT_EQ(context.GetServerTrailingMetadata(),
            (netstructer::Metadata{{"operation", "add"}}));
  EXPECT_EQ(context.peer(), server.address());

  server.Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace calc
