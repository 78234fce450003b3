#include "netstructer/tests/rpc/echo_fixture.h"

#include <thread>

#include "gtest/gtest.h"

namespace netstructer::test {

bool EchoService::SleepUnlessCancelled(ServerContext* context, int64_t ms) {
  const absl::Time end = absl::Now() + absl::Milliseconds(ms);
  while (absl::Now() < end) {
    if (context->IsCancelled()) {
      ++cancelled_seen;
      return true;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  return false;
}

absl::Status EchoService::Unary(ServerContext* context,
                                const rpc::EchoRequest* request,
                                rpc::EchoReply* reply) {
  struct Done {
    std::atomic<int>* n;
    ~Done() { ++*n; }
  } done{&finished};
  last_deadline_unix_ms = context->deadline() == absl::InfiniteFuture()
                              ? -1
                              : absl::ToUnixMillis(context->deadline());
  for (const auto& [key, value] : context->client_metadata()) {
    if (key == "echo-initial") (void)context->AddInitialMetadata("initial", value);
    if (key == "echo-trailing") (void)context->AddTrailingMetadata("trailing", value);
  }
  if (request->sleep_ms() > 0 &&
      SleepUnlessCancelled(context, request->sleep_ms())) {
    return absl::CancelledError("noticed the cancellation");
  }
  if (request->fail_code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(request->fail_code()),
                        request->text());
  }
  reply->set_text(request->text());
  reply->set_n(request->n());
  reply->set_payload(request->payload());
  return absl::OkStatus();
}

absl::Status EchoService::Sum(ServerContext* context,
                              ServerReader<rpc::EchoRequest>* reader,
                              rpc::EchoReply* reply) {
  ++sums_started;
  int64_t sum = 0;
  int64_t count = 0;
  rpc::EchoRequest request;
  for (;;) {
    absl::StatusOr<bool> more = reader->Read(&request);
    if (!more.ok()) {
      if (context->IsCancelled()) ++cancelled_seen;
      ++finished;
      return more.status();
    }
    if (!*more) break;
    if (request.sleep_ms() > 0 &&
        SleepUnlessCancelled(context, request.sleep_ms())) {
      ++finished;
      return absl::CancelledError("noticed the cancellation");
    }
    sum += request.n();
    ++count;
  }
  reply->set_n(sum);
  reply->set_text(std::to_string(count));
  ++finished;
  return absl::OkStatus();
}

absl::Status EchoService::Range(ServerContext* context,
                                const rpc::EchoRequest* request,
                                ServerWriter<rpc::EchoReply>* writer) {
  for (const auto& [key, value] : context->client_metadata()) {
    if (key == "echo-initial") (void)context->AddInitialMetadata("initial", value);
    if (key == "echo-trailing") (void)context->AddTrailingMetadata("trailing", value);
  }
  rpc::EchoReply reply;
  reply.set_payload(request->payload());
  for (int64_t i = 0; i < request->count(); ++i) {
    if (request->sleep_ms() > 0 &&
        SleepUnlessCancelled(context, request->sleep_ms())) {
      ++finished;
      return absl::CancelledError("noticed the cancellation");
    }
    reply.set_n(i);
    if (absl::Status s = writer->Write(reply); !s.ok()) {
      if (context->IsCancelled()) ++cancelled_seen;
      ++finished;
      return s;
    }
    ++range_written;
  }
  ++finished;
  if (request->fail_code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(request->fail_code()),
                        request->text());
  }
  return absl::OkStatus();
}

absl::Status EchoService::Chat(
    ServerContext* context,
    ServerReaderWriter<rpc::EchoReply, rpc::EchoRequest>* stream) {
  rpc::EchoRequest request;
  rpc::EchoReply reply;
  for (;;) {
    absl::StatusOr<bool> more = stream->Read(&request);
    if (!more.ok()) {
      if (context->IsCancelled()) ++cancelled_seen;
      ++finished;
      return more.status();
    }
    if (!*more) break;
    reply.set_text(request.text());
    reply.set_n(request.n());
    reply.set_payload(request.payload());
    if (absl::Status s = stream->Write(reply); !s.ok()) {
      if (context->IsCancelled()) ++cancelled_seen;
      ++finished;
      return s;
    }
  }
  ++finished;
  return absl::OkStatus();
}

EchoFixture::EchoFixture(EchoFixtureOptions options)
    : options_(std::move(options)) {
  ServerOptions server_options = options_.server;
  if (options_.secure) {
    key_ = transport::FernetKey::Generate().value();
    server_options.keys = {*key_};
  } else {
    server_options.insecure = true;
  }
  server_ = std::make_unique<Server>(options_.address, server_options);
  EXPECT_TRUE(server_->RegisterService(&service_).ok());
  absl::Status s = server_->Init();
  EXPECT_TRUE(s.ok()) << s;
  s = server_->Listen();
  EXPECT_TRUE(s.ok()) << s;
  absl::StatusOr<std::shared_ptr<Channel>> channel = Connect();
  EXPECT_TRUE(channel.ok()) << channel.status();
  if (channel.ok()) {
    channel_ = *std::move(channel);
    stub_ = std::make_unique<rpc::Echo::Stub>(channel_);
  }
}

EchoFixture::~EchoFixture() {
  stub_.reset();
  channel_.reset();
  server_->Shutdown(absl::Seconds(2));
}

absl::StatusOr<std::shared_ptr<Channel>> EchoFixture::Connect() const {
  ChannelOptions channel_options = options_.channel;
  if (key_.has_value()) {
    channel_options.link.key = *key_;
  } else {
    channel_options.link.insecure = true;
  }
  return Channel::Create(server_->address(), channel_options);
}

int64_t WaitUntilStalled(const std::atomic<int64_t>& counter) {
  int64_t last = counter.load();
  absl::Time moved = absl::Now();
  const absl::Time give_up = moved + absl::Seconds(20);
  while (absl::Now() - moved < absl::Milliseconds(300) &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
    if (const int64_t now = counter.load(); now != last) {
      last = now;
      moved = absl::Now();
    }
  }
  return last;
}

}  // namespace netstructer::test
