// Stubs of protos kept in another package, included by their import paths.
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/service/server.h"
#include "shop/v1/orders.ns.h"
#include "vendor/apis/legacy/quotes.ns.h"

namespace {

class OrdersService final : public shop::v1::Orders::Service {
 public:
  absl::Status Place(netstructer::ServerContext*, const shop::v1::Order* order,
                     shop::v1::OrderReply* reply) override {
    reply->set_status("placed " + order->id());
    return absl::OkStatus();
  }
};

class QuotesService final : public legacy::quotes::Quotes::Service {
 public:
  absl::Status Get(netstructer::ServerContext*, const legacy::quotes::Ask* ask,
                   legacy::quotes::Quote* quote) override {
    quote->set_symbol(ask->symbol());
    quote->set_cents(4200);
    return absl::OkStatus();
  }
};

TEST(StubsTest, ProtosOfAnotherPackageWithRewrittenImportPaths) {
  OrdersService orders;
  QuotesService quotes;
  netstructer::ServerOptions server_options;
  server_options.insecure = true;
  netstructer::Server server("127.0.0.1:0", server_options);
  ASSERT_TRUE(server.RegisterService(&orders).ok());
  ASSERT_TRUE(server.RegisterService(&quotes).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  netstructer::ChannelOptions channel_options;
  channel_options.link.insecure = true;
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      netstructer::Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  netstructer::CallOptions options;
  options.timeout = absl::Seconds(5);

  shop::v1::Orders::Stub orders_stub(*channel);
  shop::v1::Order order;
  order.set_id("o-1");
  absl::StatusOr<shop::v1::OrderReply> placed = orders_stub.Place(order, options);
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_EQ(placed->status(), "placed o-1");

  legacy::quotes::Quotes::Stub quotes_stub(*channel);
  legacy::quotes::Ask ask;
  ask.set_symbol("NS");
  absl::StatusOr<legacy::quotes::Quote> quote = quotes_stub.Get(ask, options);
  ASSERT_TRUE(quote.ok()) << quote.status();
  EXPECT_EQ(quote->cents(), 4200);
  server.Shutdown(absl::Seconds(1));
}

}  // namespace
