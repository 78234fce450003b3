// The built-in health service as a consumer uses it: SetServingStatus on
// the server, Check through the generated stub.
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "calc/calc.ns.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/service/builtin/health_service.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/fernet.h"
#include "service/builtin/health.ns.h"

namespace consumer {
namespace {

using netstructer::health::v1::Health;
using netstructer::health::v1::HealthCheckRequest;
using netstructer::health::v1::HealthCheckResponse;

class CalculatorService final : public calc::Calculator::Service {
 public:
  absl::Status Add(netstructer::ServerContext*, const calc::AddRequest* request,
                   calc::AddReply* reply) override {
    reply->set_sum(request->a() + request->b());
    return absl::OkStatus();
  }
};

TEST(HealthTest, AStatusSetOnTheServerIsWhatAClientChecks) {
  const netstructer::transport::FernetKey key =
      netstructer::transport::FernetKey::Generate().value();
  CalculatorService service;
  netstructer::ServerOptions server_options;
  server_options.keys = {key};
  netstructer::Server server("127.0.0.1:0", server_options);
  ASSERT_TRUE(server.RegisterService(&service).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  ASSERT_NE(server.health(), nullptr);

  netstructer::ChannelOptions channel_options;
  channel_options.link.key = key;
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      netstructer::Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Health::Stub health(*channel);
  netstructer::CallOptions options;
  options.timeout = absl::Seconds(5);
  HealthCheckRequest request;
  request.set_service("calc.Calculator");

  absl::StatusOr<HealthCheckResponse> before = health.Check(request, options);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->status(), HealthCheckResponse::SERVING);

  server.health()->SetServingStatus("calc.Calculator", false);
  absl::StatusOr<HealthCheckResponse> after = health.Check(request, options);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status(), HealthCheckResponse::NOT_SERVING);

  request.set_service("no.Such");
  EXPECT_EQ(health.Check(request, options).status().code(),
            absl::StatusCode::kNotFound);
  server.Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace consumer
