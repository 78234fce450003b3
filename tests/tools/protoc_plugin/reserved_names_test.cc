// The generated code holds every name of reserved_names.proto: it compiles
// against the real runtime, and each method is served and called.
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/client/client_context.h"
#include "netstructer/service/server.h"
#include "tests/tools/protoc_plugin/reserved_names.ns.h"

namespace reserved::names {
namespace {

// Echoes the text with the method's name in front.
class AwkwardService final : public Awkward::Service {
 public:
  ::absl::Status kServiceName(::netstructer::ServerContext*, const M* in,
                              M* out) override {
    return Echo("kServiceName", in, out);
  }
  ::absl::Status std(::netstructer::ServerContext*, const M* in,
                     M* out) override {
    return Echo("std", in, out);
  }
  ::absl::Status name(::netstructer::ServerContext*, const M* in,
                      M* out) override {
    return Echo("name", in, out);
  }
  ::absl::Status kAwkward_std(::netstructer::ServerContext*, const M* in,
                              M* out) override {
    return Echo("kAwkward_std", in, out);
  }
  ::absl::Status Awkward(::netstructer::ServerContext*, const M* in,
                         M* out) override {
    return Echo("Awkward", in, out);
  }
  ::absl::Status done(::netstructer::ServerContext*, const M* in,
                      ::netstructer::ServerWriter<M>* writer) override {
    M reply;
    reply.set_text("done:" + in->text());
    return writer->Write(reply);
  }
  ::absl::Status PingReactor(::netstructer::ServerContext*, const M* in,
                             M* out) override {
    return Echo("PingReactor", in, out);
  }
  // `response` is a client-streaming method and the factory's parameter.
  ::std::unique_ptr<::netstructer::ServerReadReactor<M>> responseReactor(
      ::netstructer::ServerContext*, M* response) override {
    class Count final : public ::netstructer::ServerReadReactor<M> {
     public:
      explicit Count(M* response) : response_(response) { StartRead(&in_); }
      void OnReadDone(bool ok) override {
        if (!ok) {
          response_->set_text("response:" + ::std::to_string(n_));
          Finish(::absl::OkStatus());
          return;
        }
        ++n_;
        StartRead(&in_);
      }

     private:
      M* const response_;
      M in_;
      int n_ = 0;
    };
    return ::std::make_unique<Count>(response);
  }

 private:
  static ::absl::Status Echo(const char* method, const M* in, M* out) {
    out->set_text(::std::string(method) + ":" + in->text());
    return ::absl::OkStatus();
  }
};

class StdService final : public names::std::Service {
 public:
  ::absl::Status Get(::netstructer::ServerContext*, const M* in,
                     M* out) override {
    out->set_text("std.Get:" + in->text());
    return ::absl::OkStatus();
  }
};

M Text(const char* text) {
  M m;
  m.set_text(text);
  return m;
}

TEST(ReservedNames, EveryMethodIsServedAndCalled) {
  AwkwardService awkward;
  StdService std_service;
  ::netstructer::ServerOptions server_options;
  server_options.insecure = true;
  ::netstructer::Server server("127.0.0.1:0", server_options);
  ASSERT_TRUE(server.RegisterService(&awkward).ok());
  ASSERT_TRUE(server.RegisterService(&std_service).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  EXPECT_EQ(awkward.::netstructer::Service::name(), "reserved.names.Awkward");
  EXPECT_STREQ(Awkward::kServiceName, "reserved.names.Awkward");
  ::netstructer::ChannelOptions channel_options;
  channel_options.link.insecure = true;
  ::absl::StatusOr<::std::shared_ptr<::netstructer::Channel>> channel =
      ::netstructer::Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Awkward::Stub stub(*channel);
  ::netstructer::CallOptions options;
  options.timeout = ::absl::Seconds(5);

  struct Case {
    const char* method;
    ::absl::StatusOr<M> reply;
  };
  const Case cases[] = {
      {"kServiceName", stub.kServiceName(Text("a"), options)},
      {"std", stub.std(Text("a"), options)},
      {"name", stub.name(Text("a"), options)},
      {"kAwkward_std", stub.kAwkward_std(Text("a"), options)},
      {"Awkward", stub.Awkward(Text("a"), options)},
      {"PingReactor", stub.PingReactor(Text("a"), options)},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(c.reply.ok()) << c.method << ": " << c.reply.status();
    EXPECT_EQ(c.reply->text(), ::std::string(c.method) + ":a");
  }
  // Not overridden: the generated defaults answer UNIMPLEMENTED.
  EXPECT_EQ(stub.channel(Text("a"), options).status().code(),
            ::absl::StatusCode::kUnimplemented);
  EXPECT_EQ(stub.methods(Text("a"), options).status().code(),
            ::absl::StatusCode::kUnimplemented);
  EXPECT_EQ(stub.AddMethod(Text("a"), options).status().code(),
            ::absl::StatusCode::kUnimplemented);
  EXPECT_EQ(stub.request(Text("a"), options).status().code(),
            ::absl::StatusCode::kUnimplemented);
  EXPECT_EQ(stub.options(Text("a"), options).status().code(),
            ::absl::StatusCode::kUnimplemented);
  // The context overloads, the callback overload and NewStub beside
  // methods that share their parameters' and members' names.
  EXPECT_EQ(stub.Done(Text("a"), options).status().code(),
            ::absl::StatusCode::kUnimplemented);
  ::netstructer::ClientContext context;
  context.set_timeout(::absl::Seconds(5));
  EXPECT_EQ(stub.context(&context, Text("a")).status().code(),
            ::absl::StatusCode::kUnimplemented);
  EXPECT_EQ(stub.NewStub(Text("a"), options).status().code(),
            ::absl::StatusCode::kUnimplemented);
  ::netstructer::Future<M> forwarded = stub.forwardAsync(Text("a"), options);
  EXPECT_EQ(forwarded.Get().status().code(),
            ::absl::StatusCode::kUnimplemented);
  ::netstructer::Future<M> done_called;
  stub.DoneAsync(Text("a"), done_called.Setter());
  EXPECT_EQ(done_called.Get().status().code(),
            ::absl::StatusCode::kUnimplemented);
  ::std::unique_ptr<Awkward::Stub> made = Awkward::NewStub(*channel);
  ::absl::StatusOr<M> by_new_stub = made->std(Text("c"), options);
  ASSERT_TRUE(by_new_stub.ok()) << by_new_stub.status();
  EXPECT_EQ(by_new_stub->text(), "std:c");

  auto reader = stub.done(Text("a"), options);
  M reply;
  ::absl::StatusOr<bool> more = reader->Read(&reply);
  ASSERT_TRUE(more.ok() && *more) << more.status();
  EXPECT_EQ(reply.text(), "done:a");

  EXPECT_EQ(stub.Ping(Text("a"), options).status().code(),
            ::absl::StatusCode::kUnimplemented);
  auto writer = stub.response(options);
  ASSERT_TRUE(writer->Write(Text("x")).ok());
  ASSERT_TRUE(writer->Write(Text("y")).ok());
  ::absl::StatusOr<M> counted = writer->Finish();
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ(counted->text(), "response:2");

  names::std::Stub std_stub(*channel);
  ::absl::StatusOr<M> got = std_stub.Get(Text("b"), options);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->text(), "std.Get:b");
  server.Shutdown(::absl::Seconds(1));
}

}  // namespace
}  // namespace reserved::names
