// A service whose requests and responses are well-known types.
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/fernet.h"
#include "wkt/clock.ns.h"

namespace consumer::wkt {
namespace {

using google::protobuf::Empty;
using google::protobuf::StringValue;
using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

class ClockService final : public Clock::Service {
 public:
  absl::Status Ping(netstructer::ServerContext*, const Empty*, Empty*) override {
    return absl::OkStatus();
  }
  absl::Status Now(netstructer::ServerContext*, const Empty*,
                   Timestamp* now) override {
    *now = TimeUtil::SecondsToTimestamp(1700000000);
    return absl::OkStatus();
  }
  absl::Status Add(netstructer::ServerContext*, const AddRequest* request,
                   Timestamp* sum) override {
    *sum = request->at() + request->delta();
    return absl::OkStatus();
  }
  absl::Status Echo(netstructer::ServerContext*, const StringValue* request,
                    StringValue* reply) override {
    reply->set_value(request->value());
    return absl::OkStatus();
  }
};

TEST(ClockTest, WellKnownTypesTravelAsRequestsAndResponses) {
  const netstructer::transport::FernetKey key =
      netstructer::transport::FernetKey::Generate().value();
  ClockService service;
  netstructer::ServerOptions server_options;
  server_options.keys = {key};
  netstructer::Server server("127.0.0.1:0", server_options);
  ASSERT_TRUE(server.RegisterService(&service).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  netstructer::ChannelOptions channel_options;
  channel_options.link.key = key;
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      netstructer::Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Clock::Stub stub(*channel);
  netstructer::CallOptions options;
  options.timeout = absl::Seconds(5);

  absl::StatusOr<Empty> pong = stub.Ping(Empty(), options);
  EXPECT_TRUE(pong.ok()) << pong.status();
  absl::StatusOr<Timestamp> now = stub.Now(Empty(), options);
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->seconds(), 1700000000);
  AddRequest add;
  *add.mutable_at() = TimeUtil::SecondsToTimestamp(100);
  *add.mutable_delta() = TimeUtil::SecondsToDuration(23);
  absl::StatusOr<Timestamp> sum = stub.Add(add, options);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->seconds(), 123);
  StringValue hello;
  hello.set_value("hello");
  absl::StatusOr<StringValue> echoed = stub.Echo(hello, options);
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ(echoed->value(), "hello");
  server.Shutdown(absl::Seconds(1));
}

TEST(ClockTest, ACustomMethodOptionIsReadable) {
  const google::protobuf::MethodDescriptor* ping =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          "consumer.wkt.Clock.Ping");
  ASSERT_NE(ping, nullptr);
  EXPECT_EQ(ping->options().GetExtension(summary), "answers at once");
}

}  // namespace
}  // namespace consumer::wkt
