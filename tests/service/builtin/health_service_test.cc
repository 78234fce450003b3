// The built-in health service: on a real Server beside the Echo service,
// and directly.
#include "netstructer/service/builtin/health_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "service/builtin/health.ns.h"

namespace netstructer::builtin {
namespace {

using health::v1::Health;
using health::v1::HealthCheckRequest;
using health::v1::HealthCheckResponse;
using test::EchoFixture;
using test::EchoFixtureOptions;
using ::testing::HasSubstr;

constexpr char kEcho[] = "netstructer.test.rpc.Echo";

absl::StatusOr<HealthCheckResponse::ServingStatus> Check(
    const std::shared_ptr<Channel>& channel, const std::string& service) {
  Health::Stub stub(channel);
  HealthCheckRequest request;
  request.set_service(service);
  absl::StatusOr<HealthCheckResponse> response = stub.Check(request);
  if (!response.ok()) return response.status();
  return response->status();
}

// A service with a name and no methods.
class NamedService final : public Service {
 public:
  explicit NamedService(const char* name) : Service(name) {}
};

TEST(HealthService, EveryRegisteredServiceStartsServing) {
  EchoFixture f;
  for (const char* name : {kEcho, "netstructer.health.v1.Health",
                           "netstructer.reflection.v1.Reflection"}) {
    absl::StatusOr<HealthCheckResponse::ServingStatus> status =
        Check(f.channel(), name);
    ASSERT_TRUE(status.ok()) << name << ": " << status.status();
    EXPECT_EQ(*status, HealthCheckResponse::SERVING) << name;
  }
}

TEST(HealthService, EmptyNameIsTheServerAsAWhole) {
  EchoFixture f;
  EXPECT_EQ(Check(f.channel(), "").value(), HealthCheckResponse::SERVING);
  f.server().health()->SetServingStatus("", false);
  EXPECT_EQ(Check(f.channel(), "").value(), HealthCheckResponse::NOT_SERVING);
  // The services keep their own status.
  EXPECT_EQ(Check(f.channel(), kEcho).value(), HealthCheckResponse::SERVING);
}

TEST(HealthService, UnknownServiceIsNotFound) {
  EchoFixture f;
  absl::StatusOr<HealthCheckResponse::ServingStatus> status =
      Check(f.channel(), "netstructer.test.rpc.Nope");
  EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.status().message(),
              HasSubstr("netstructer.test.rpc.Nope"));
  // Not a prefix match either.
  EXPECT_EQ(Check(f.channel(), "netstructer.test.rpc").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(HealthService, SetServingStatusIsWhatCheckReports) {
  EchoFixture f;
  HealthService* health = f.server().health();
  ASSERT_NE(health, nullptr);
  health->SetServingStatus(kEcho, false);
  EXPECT_EQ(Check(f.channel(), kEcho).value(),
            HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(f.channel(), "").value(), HealthCheckResponse::SERVING);
  health->SetServingStatus(kEcho, true);
  EXPECT_EQ(Check(f.channel(), kEcho).value(), HealthCheckResponse::SERVING);
}

TEST(HealthService, SetServingStatusMakesANameThatIsNoServiceKnown) {
  EchoFixture f;
  f.server().health()->SetServingStatus("database", false);
  EXPECT_EQ(Check(f.channel(), "database").value(),
            HealthCheckResponse::NOT_SERVING);
}

TEST(HealthService, AServiceRegisteredAfterInitServesToo) {
  EchoFixture f;
  NamedService late("netstructer.test.Late");
  ASSERT_TRUE(f.server().RegisterService(&late).ok());
  EXPECT_EQ(Check(f.channel(), "netstructer.test.Late").value(),
            HealthCheckResponse::SERVING);
}

TEST(HealthService, WorksWithoutAServer) {
  NamedService a("pkg.A");
  HealthService health([&a] { return std::vector<Service*>{&a}; });
  HealthCheckRequest request;
  HealthCheckResponse response;
  request.set_service("pkg.A");
  ASSERT_TRUE(health.Check(nullptr, &request, &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  request.set_service("pkg.B");
  EXPECT_EQ(health.Check(nullptr, &request, &response).code(),
            absl::StatusCode::kNotFound);
  health.SetServingStatus("pkg.B", true);
  ASSERT_TRUE(health.Check(nullptr, &request, &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
}

TEST(BuiltinServices, OffMeansNeitherListedNorServed) {
  EchoFixtureOptions options;
  options.server.builtin_services = false;
  EchoFixture f(options);
  EXPECT_EQ(f.server().health(), nullptr);
  ASSERT_EQ(f.server().services().size(), 1u);
  EXPECT_EQ(f.server().services()[0]->name(), kEcho);
  EXPECT_EQ(Check(f.channel(), "").status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(BuiltinServices, AreListedAfterTheServicesRegisteredBeforeInit) {
  EchoFixture f;
  std::vector<std::string> names;
  for (const Service* s : f.server().services()) names.push_back(s->name());
  EXPECT_EQ(names,
            (std::vector<std::string>{kEcho, "netstructer.health.v1.Health",
                                      "netstructer.reflection.v1.Reflection"}));
}

// Always NOT_SERVING: the user's own health service.
class OwnHealth final : public Health::Service {
 public:
  absl::Status Check(ServerContext* context, const HealthCheckRequest* request,
                     HealthCheckResponse* response) override {
    response->set_status(HealthCheckResponse::NOT_SERVING);
    return absl::OkStatus();
  }
};

TEST(BuiltinServices, AServiceOfTheSameNameRegisteredBeforeInitReplacesIt) {
  ServerOptions options;
  options.insecure = true;
  Server server("127.0.0.1:0", options);
  OwnHealth own;
  ASSERT_TRUE(server.RegisterService(&own).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  std::vector<Service*> services = server.services();
  ASSERT_EQ(services.size(), 2u);  // Ours, then reflection.
  EXPECT_EQ(services[0], &own);
  EXPECT_EQ(services[1]->name(), "netstructer.reflection.v1.Reflection");
  ChannelOptions channel_options;
  channel_options.link.insecure = true;
  absl::StatusOr<std::shared_ptr<Channel>> channel =
      Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_EQ(Check(*channel, "").value(), HealthCheckResponse::NOT_SERVING);
  channel->reset();
  server.Shutdown();
}

TEST(BuiltinServices, AServiceOfTheSameNameRegisteredAfterInitIsRefused) {
  EchoFixture f;
  OwnHealth late;
  EXPECT_EQ(f.server().RegisterService(&late).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Check(f.channel(), "").value(), HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace netstructer::builtin
