// proto2 required fields: a message missing one is an error that names it,
// on either side, and the process lives (protobuf's checking serializers
// abort it: `CHECK failed: IsInitialized()`).
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "legacy/ledger.ns.h"
#include "netstructer/client/channel.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/fernet.h"

namespace consumer::legacy {
namespace {

class LedgerService final : public Ledger::Service {
 public:
  absl::Status Post(netstructer::ServerContext*, const Entry* entry,
                    Receipt* receipt) override {
    if (entry->memo() != "forget the id") receipt->set_id(entry->cents());
    return absl::OkStatus();
  }
  absl::Status History(netstructer::ServerContext*, const Entry* entry,
                       netstructer::ServerWriter<Receipt>* writer) override {
    Receipt receipt;
    for (int64_t i = 1; i < entry->cents(); ++i) {
      receipt.set_id(i);
      if (absl::Status s = writer->Write(receipt); !s.ok()) return s;
    }
    receipt.clear_id();
    absl::Status incomplete = writer->Write(receipt);
    last_write_error = incomplete;
    return incomplete;
  }
  absl::Status last_write_error;  // Read after the call (the test's thread).
};

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const netstructer::transport::FernetKey key =
        netstructer::transport::FernetKey::Generate().value();
    netstructer::ServerOptions server_options;
    server_options.keys = {key};
    server_.emplace("127.0.0.1:0", server_options);
    ASSERT_TRUE(server_->RegisterService(&service_).ok());
    ASSERT_TRUE(server_->Init().ok());
    ASSERT_TRUE(server_->Listen().ok());
    netstructer::ChannelOptions channel_options;
    channel_options.link.key = key;
    absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
        netstructer::Channel::Create(server_->address(), channel_options);
    ASSERT_TRUE(channel.ok()) << channel.status();
    stub_ = std::make_unique<Ledger::Stub>(*channel);
    options_.timeout = absl::Seconds(5);
  }
  void TearDown() override { server_->Shutdown(absl::Seconds(1)); }

  static Entry Complete(const char* memo = "") {
    Entry entry;
    entry.set_account("acct-1");
    entry.set_cents(250);
    entry.set_memo(memo);
    return entry;
  }

  LedgerService service_;
  std::optional<netstructer::Server> server_;
  std::unique_ptr<Ledger::Stub> stub_;
  netstructer::CallOptions options_;
};

TEST_F(LedgerTest, ACompleteExchangeWorks) {
  absl::StatusOr<Receipt> receipt = stub_->Post(Complete(), options_);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->id(), 250);
}

TEST_F(LedgerTest, ARequestMissingARequiredFieldIsRefusedBeforeItLeaves) {
  Entry entry;
  entry.set_account("acct-1");  // cents missing.
  absl::StatusOr<Receipt> receipt = stub_->Post(entry, options_);
  ASSERT_EQ(receipt.status().code(), absl::StatusCode::kInvalidArgument)
      << receipt.status();
  EXPECT_TRUE(absl::StrContains(receipt.status().message(), "cents"))
      << receipt.status();
  EXPECT_TRUE(stub_->Post(Complete(), options_).ok());  // Still usable.
}

TEST_F(LedgerTest, AResponseMissingARequiredFieldFailsTheCallAsInternal) {
  absl::StatusOr<Receipt> receipt =
      stub_->Post(Complete("forget the id"), options_);
  ASSERT_EQ(receipt.status().code(), absl::StatusCode::kInternal)
      << receipt.status();
  EXPECT_TRUE(absl::StrContains(receipt.status().message(), "id"))
      << receipt.status();
  EXPECT_TRUE(stub_->Post(Complete(), options_).ok());  // The server lives.
}

TEST_F(LedgerTest, AStreamedResponseMissingARequiredFieldEndsTheStream) {
  Entry entry = Complete();
  entry.set_cents(3);
  auto reader = stub_->History(entry, options_);
  Receipt receipt;
  for (int64_t i = 1; i < 3; ++i) {
    absl::StatusOr<bool> more = reader->Read(&receipt);
    ASSERT_TRUE(more.ok() && *more) << more.status();
    EXPECT_EQ(receipt.id(), i);
  }
  absl::StatusOr<bool> more = reader->Read(&receipt);
  ASSERT_EQ(more.status().code(), absl::StatusCode::kInternal) << more.status();
  EXPECT_EQ(service_.last_write_error.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(service_.last_write_error.message(),
                                "missing required fields: id"))
      << service_.last_write_error;
}

}  // namespace
}  // namespace consumer::legacy
