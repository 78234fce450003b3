// A consumer whose own headers sit at NetStructer's header paths
// (transport/socket.h, client/channel.h, service/server.h, ...; see
// //:own_headers). Before NetStructer's headers were included as
// netstructer/..., its client/channel.h found the consumer's
// transport/socket.h first ("'Socket' does not name a type"). Here both sets
// are in one translation unit, the consumer's headers first, and a call runs
// through the generated stub.
#include "client/channel.h"
#include "proto/status_macros.h"
#include "proto/value.h"
#include "rpc/connection.h"
#include "service/server.h"
#include "transport/bridge.h"
#include "transport/mutex.h"
#include "transport/socket.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "calc/calc.ns.h"
#include "calc/calculator_service.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/service/server.h"

namespace calc {
namespace {

TEST(ShadowTest, TheConsumersHeadersAreTheConsumers) {
  // Each bare path names the consumer's header, not NetStructer's.
  EXPECT_EQ(std::string(shop::Channel::kPath), "client/channel.h");
  EXPECT_EQ(std::string(shop::Server::kPath), "service/server.h");
  EXPECT_EQ(std::string(shop::Connection::kPath), "rpc/connection.h");
  EXPECT_EQ(std::string(shop::Value::kPath), "proto/value.h");
  EXPECT_EQ(std::string(shop::StatusMacros::kPath), "proto/status_macros.h");
  EXPECT_EQ(std::string(shop::Bridge::kPath), "transport/bridge.h");
  EXPECT_EQ(std::string(shop::Mutex::kPath), "transport/mutex.h");
  EXPECT_EQ(shop::Socket("mine").name(), "mine");
}

// The same API as calc_test, here through the Future overload, with no key
// (an insecure server: the shadowed paths are the point, not the key).
TEST(ShadowTest, AStubCallWorksBesideThem) {
  CalculatorService service;
  netstructer::ServerOptions server_options;
  server_options.insecure = true;
  netstructer::Server server("127.0.0.1:0", server_options);
  ASSERT_TRUE(server.RegisterService(&service).ok());
  for (absl::Status s : {server.Init(), server.Listen()}) {
    ASSERT_TRUE(s.ok()) << s;
  }
  netstructer::ChannelOptions channel_options;
  channel_options.link.insecure = true;
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      netstructer::Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  AddRequest request;
  request.set_a(20);
  request.set_b(22);
  Calculator::Stub stub(*channel);
  netstructer::Future<AddReply> sum = stub.AddAsync(request);
  absl::StatusOr<AddReply> reply =
      sum.WaitUntil(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->sum(), 42);
  server.Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace calc
