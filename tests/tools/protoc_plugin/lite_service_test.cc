// Stubs for a LITE_RUNTIME proto compile against the real runtime and work.
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/service/server.h"
#include "tests/tools/protoc_plugin/lite_service.ns.h"

namespace lite::svc {
namespace {

class PingerService final : public Pinger::Service {
 public:
  absl::Status Send(netstructer::ServerContext*, const Ping* in,
                    Ping* out) override {
    out->set_text("pong:" + in->text());
    return absl::OkStatus();
  }
};

TEST(LiteService, ALiteRuntimeServiceIsServedAndCalled) {
  PingerService service;
  netstructer::ServerOptions server_options;
  server_options.insecure = true;
  netstructer::Server server("127.0.0.1:0", server_options);
  ASSERT_TRUE(server.RegisterService(&service).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  netstructer::ChannelOptions channel_options;
  channel_options.link.insecure = true;
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      netstructer::Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Pinger::Stub stub(*channel);
  netstructer::CallOptions options;
  options.timeout = absl::Seconds(5);
  Ping ping;
  ping.set_text("a");
  absl::StatusOr<Ping> reply = stub.Send(ping, options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "pong:a");
  server.Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace lite::svc
