// Compiles the generated test_services.ns.{h,cc} against the fake runtime in
// fake_runtime/ and checks what the generated code does: which runtime call
// each stub method makes with which method name, what the Service
// constructor registers, and that handlers default to UNIMPLEMENTED.

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tools/protoc_plugin/empty_services.ns.h"  // Compiles alone.
#include "tests/tools/protoc_plugin/test_services.ns.h"

namespace netstructer::test::sub {
namespace {

using ::netstructer::internal::MethodKind;

TEST(GeneratedCode, ServiceNameIsTheProtoFullName) {
  EXPECT_STREQ(Echo::kServiceName, "netstructer.test.sub.Echo");
  EXPECT_STREQ(A_B::kServiceName, "netstructer.test.sub.A_B");
}

TEST(GeneratedCode, StubMethodsCallTheRuntimeWithTheMethodPath) {
  auto channel = std::make_shared<::netstructer::Channel>();
  Echo::Stub echo(channel);
  EchoRequest request;
  EXPECT_TRUE(echo.Ping(request).ok());
  bool called = false;
  echo.PingAsync(request, {}, [&called](absl::StatusOr<EchoReply> reply) {
    called = reply.ok();
  });
  EXPECT_TRUE(called);
  echo.PingAsync(request);
  EXPECT_NE(echo.Upload(), nullptr);
  EXPECT_NE(echo.Subscribe(request), nullptr);
  EXPECT_NE(echo.Chat(), nullptr);
  Storage::Stub storage(channel);
  EXPECT_TRUE(storage.Get(Outer_Inner()).ok());
  A::Stub a(channel);
  a.B_C();
  A_B::Stub a_b(channel);
  a_b.C(request);
  EXPECT_EQ(channel->calls,
            (std::vector<std::string>{
                "UnaryCall /netstructer.test.sub.Echo/Ping",
                "AsyncUnaryCall /netstructer.test.sub.Echo/Ping",
                "FutureUnaryCall /netstructer.test.sub.Echo/Ping",
                "ClientStreamingCall /netstructer.test.sub.Echo/Upload",
                "ServerStreamingCall /netstructer.test.sub.Echo/Subscribe",
                "BidiStreamingCall /netstructer.test.sub.Echo/Chat",
                "UnaryCall /netstructer.test.sub.Storage/Get",
                "BidiStreamingCall /netstructer.test.sub.A/B_C",
                "UnaryCall /netstructer.test.sub.A_B/C",
            }));
}

TEST(GeneratedCode, ContextOverloadsAndTheDefaultOptionsCallback) {
  auto channel = std::make_shared<::netstructer::Channel>();
  std::unique_ptr<Echo::Stub> echo = Echo::NewStub(channel);
  ASSERT_NE(echo, nullptr);
  EchoRequest request;
  ::netstructer::ClientContext context;
  EXPECT_TRUE(echo->Ping(&context, request).ok());
  int called = 0;
  echo->PingAsync(&context, request,
                  [&called](absl::StatusOr<EchoReply>) { ++called; });
  echo->PingAsync(&context, request);
  EXPECT_NE(echo->Upload(&context), nullptr);
  EXPECT_NE(echo->Subscribe(&context, request), nullptr);
  EXPECT_NE(echo->Chat(&context), nullptr);
  // The callback with default options; `{}` still picks the Future.
  echo->PingAsync(request,
                  [&called](const absl::StatusOr<EchoReply>&) { ++called; });
  echo->PingAsync(request, {});
  // `{}` alone is a null ClientContext* (an identity conversion beats the
  // aggregate's): the runtime takes null as the defaults, as `{}` options.
  EXPECT_NE(echo->Upload({}), nullptr);
  EXPECT_EQ(called, 2);
  EXPECT_EQ(channel->calls,
            (std::vector<std::string>{
                "UnaryCall (context) /netstructer.test.sub.Echo/Ping",
                "AsyncUnaryCall (context) /netstructer.test.sub.Echo/Ping",
                "FutureUnaryCall (context) /netstructer.test.sub.Echo/Ping",
                "ClientStreamingCall (context) /netstructer.test.sub.Echo/Upload",
                "ServerStreamingCall (context) "
                "/netstructer.test.sub.Echo/Subscribe",
                "BidiStreamingCall (context) /netstructer.test.sub.Echo/Chat",
                "AsyncUnaryCall /netstructer.test.sub.Echo/Ping",
                "FutureUnaryCall /netstructer.test.sub.Echo/Ping",
                "ClientStreamingCall (context) /netstructer.test.sub.Echo/Upload",
            }));
}

TEST(GeneratedCode, StreamingMethodsHaveAsynchronousOverloads) {
  auto channel = std::make_shared<::netstructer::Channel>();
  Echo::Stub echo(channel);
  EchoRequest request;
  int ended = 0;
  ::netstructer::StreamCallbacks<EchoReply> callbacks;
  callbacks.on_done = [&ended](absl::Status s) { ended += s.ok(); };
  echo.SubscribeAsync(request, {}, callbacks);
  EXPECT_NE(echo.ChatAsync({}, callbacks), nullptr);
  EXPECT_NE(echo.UploadAsync({}, [&ended](absl::StatusOr<EchoReply> r) {
    ended += r.ok();
  }),
            nullptr);
  ::netstructer::ClientContext context;
  echo.SubscribeAsync(&context, request, callbacks);
  EXPECT_NE(echo.ChatAsync(&context, callbacks), nullptr);
  EXPECT_EQ(ended, 5);
  // As for Upload({}): a `{}` first argument is a null context, which the
  // runtime takes as the defaults.
  EXPECT_EQ(channel->calls,
            (std::vector<std::string>{
                "ServerStreamingAsyncCall /netstructer.test.sub.Echo/Subscribe",
                "BidiStreamingAsyncCall (context) "
                "/netstructer.test.sub.Echo/Chat",
                "ClientStreamingAsyncCall (context) "
                "/netstructer.test.sub.Echo/Upload",
                "ServerStreamingAsyncCall (context) "
                "/netstructer.test.sub.Echo/Subscribe",
                "BidiStreamingAsyncCall (context) "
                "/netstructer.test.sub.Echo/Chat",
            }));
}

TEST(GeneratedCode, ServiceRegistersEveryMethodWithItsKind) {
  Echo::Service service;
  EXPECT_EQ(service.name(), "netstructer.test.sub.Echo");
  ASSERT_EQ(service.methods().size(), 4u);
  EXPECT_EQ(service.methods()[0].name, "/netstructer.test.sub.Echo/Ping");
  EXPECT_EQ(service.methods()[0].kind, MethodKind::kUnary);
  EXPECT_EQ(service.methods()[1].name, "/netstructer.test.sub.Echo/Upload");
  EXPECT_EQ(service.methods()[1].kind, MethodKind::kClientStreaming);
  EXPECT_EQ(service.methods()[2].name, "/netstructer.test.sub.Echo/Subscribe");
  EXPECT_EQ(service.methods()[2].kind, MethodKind::kServerStreaming);
  EXPECT_EQ(service.methods()[3].name, "/netstructer.test.sub.Echo/Chat");
  EXPECT_EQ(service.methods()[3].kind, MethodKind::kBidiStreaming);
}

TEST(GeneratedCode, UnoverriddenHandlersAreUnimplemented) {
  Echo::Service service;
  for (size_t i = 0; i < service.methods().size(); ++i) {
    absl::Status status = service.Invoke(i);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  }
  EXPECT_EQ(service.Invoke(0).message(),
            "method netstructer.test.sub.Echo/Ping is not implemented");
}

class PingOnly final : public Echo::Service {
 public:
  absl::Status Ping(::netstructer::ServerContext* context,
                    const EchoRequest* request, EchoReply* response) override {
    ++pings;
    return absl::OkStatus();
  }
  int pings = 0;
};

TEST(GeneratedCode, RegisteredHandlersDispatchToOverrides) {
  PingOnly service;
  EXPECT_TRUE(service.Invoke(0).ok());
  EXPECT_EQ(service.pings, 1);
  EXPECT_EQ(service.Invoke(1).code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace netstructer::test::sub
