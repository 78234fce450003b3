// GreeterService on a real Server on 127.0.0.1:0, called through the
// generated stub over an authenticated Channel.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "examples/greeter/greeter.ns.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/examples/greeter/greeter_service.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/fernet.h"

namespace greeter {
namespace {

using netstructer::Channel;
using netstructer::ChannelOptions;
using netstructer::transport::FernetKey;

class GreeterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    netstructer::ServerOptions options;
    options.keys = {key_};
    server_ = std::make_unique<netstructer::Server>("127.0.0.1:0", options);
    ASSERT_TRUE(server_->RegisterService(&service_).ok());
    absl::Status s = server_->Init();
    ASSERT_TRUE(s.ok()) << s;
    s = server_->Listen();
    ASSERT_TRUE(s.ok()) << s;
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(2));
  }

  absl::StatusOr<std::shared_ptr<Channel>> Connect(const FernetKey& key) {
    ChannelOptions options;
    options.link.key = key;
    options.link.connect_timeout = absl::Seconds(5);
    options.link.handshake_timeout = absl::Seconds(5);
    return Channel::Create(server_->address(), options);
  }

  netstructer::CallOptions Options() {
    netstructer::CallOptions options;
    options.timeout = absl::Seconds(5);
    return options;
  }

  const FernetKey key_ = FernetKey::Generate().value();
  GreeterService service_;  // Outlives server_ (declared first).
  std::unique_ptr<netstructer::Server> server_;
};

TEST_F(GreeterTest, SayHelloGreetsByName) {
  absl::StatusOr<std::shared_ptr<Channel>> channel = Connect(key_);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Greeter::Stub stub(*channel);
  HelloRequest request;
  request.set_name("World");
  absl::StatusOr<HelloReply> reply = stub.SayHello(request, Options());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->message(), "Hello, World");
}

TEST_F(GreeterTest, SayHelloEmptyNameIsInvalidArgument) {
  absl::StatusOr<std::shared_ptr<Channel>> channel = Connect(key_);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Greeter::Stub stub(*channel);
  absl::StatusOr<HelloReply> reply = stub.SayHello(HelloRequest(), Options());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument)
      << reply.status();
}

TEST_F(GreeterTest, StreamRepliesToEachNameInOrder) {
  absl::StatusOr<std::shared_ptr<Channel>> channel = Connect(key_);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Greeter::Stub stub(*channel);
  auto stream = stub.SayHelloStream(Options());
  const std::vector<std::string> names = {"Ada", "Grace", "Linus"};
  HelloRequest request;
  for (const std::string& name : names) {
    request.set_name(name);
    ASSERT_TRUE(stream->Write(request).ok());
  }
  ASSERT_TRUE(stream->WritesDone().ok());
  std::vector<std::string> messages;
  HelloReply reply;
  for (;;) {
    absl::StatusOr<bool> more = stream->Read(&reply);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    messages.push_back(reply.message());
  }
  EXPECT_EQ(messages, (std::vector<std::string>{"Hello, Ada", "Hello, Grace",
                                                "Hello, Linus"}));
  absl::Status finished = stream->Finish();
  EXPECT_TRUE(finished.ok()) << finished;
}

TEST_F(GreeterTest, SayHelloRepeatedlyStreamsCountGreetings) {
  absl::StatusOr<std::shared_ptr<Channel>> channel = Connect(key_);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Greeter::Stub stub(*channel);
  HelloRequest request;
  request.set_name("Ada");
  request.set_count(3);
  auto stream = stub.SayHelloRepeatedly(request, Options());
  std::vector<std::string> messages;
  HelloReply reply;
  for (;;) {
    absl::StatusOr<bool> more = stream->Read(&reply);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    messages.push_back(reply.message());
  }
  EXPECT_EQ(messages, std::vector<std::string>(3, "Hello, Ada"));
  EXPECT_TRUE(stream->Finish().ok());

  request.set_count(GreeterService::kMaxRepeat + 1);
  auto refused = stub.SayHelloRepeatedly(request, Options());
  absl::StatusOr<bool> more = refused->Read(&reply);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kInvalidArgument)
      << more.status();
}

TEST_F(GreeterTest, SayHelloToAllGreetsEveryNameInOneReply) {
  absl::StatusOr<std::shared_ptr<Channel>> channel = Connect(key_);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Greeter::Stub stub(*channel);
  auto stream = stub.SayHelloToAll(Options());
  HelloRequest request;
  for (const char* name : {"Ada", "Grace", "Linus"}) {
    request.set_name(name);
    ASSERT_TRUE(stream->Write(request).ok());
  }
  absl::StatusOr<HelloReply> reply = stream->Finish();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->message(), "Hello, Ada, Grace and Linus");

  auto empty = stub.SayHelloToAll(Options());
  EXPECT_EQ(empty->Finish().status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(GreeterTest, WrongKeyIsUnauthenticated) {
  const FernetKey wrong = FernetKey::Generate().value();
  absl::StatusOr<std::shared_ptr<Channel>> channel = Connect(wrong);
  ASSERT_FALSE(channel.ok());
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kUnauthenticated)
      << channel.status();
}

}  // namespace
}  // namespace greeter
