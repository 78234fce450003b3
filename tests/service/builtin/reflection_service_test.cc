// The built-in reflection service: on a real Server beside the Echo
// service, and directly for import order and hand-written services.
#include "netstructer/service/builtin/reflection_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "service/builtin/reflection.ns.h"
#include "tests/rpc/echo.pb.h"
#include "tests/service/builtin/reflection_top.pb.h"

namespace netstructer::builtin {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptorProto;
using reflection::v1::FileContainingSymbolRequest;
using reflection::v1::FileDescriptorResponse;
using reflection::v1::ListServicesRequest;
using reflection::v1::ListServicesResponse;
using reflection::v1::MethodInfo;
using reflection::v1::Reflection;
using test::EchoFixture;
using ::testing::HasSubstr;

absl::StatusOr<FileDescriptorResponse> FileContaining(
    const std::shared_ptr<Channel>& channel, const std::string& symbol) {
  Reflection::Stub stub(channel);
  FileContainingSymbolRequest request;
  request.set_symbol(symbol);
  return stub.FileContainingSymbol(request);
}

std::vector<std::string> FileNames(const FileDescriptorResponse& response) {
  std::vector<std::string> names;
  for (const std::string& bytes : response.file_descriptor_proto()) {
    FileDescriptorProto file;
    EXPECT_TRUE(file.ParseFromString(bytes));
    names.push_back(file.name());
  }
  return names;
}

TEST(ReflectionService, ListServicesShowsEchoWithItsFourMethodsAndKinds) {
  EchoFixture f;
  Reflection::Stub stub(f.channel());
  absl::StatusOr<ListServicesResponse> list = stub.ListServices({});
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->services_size(), 3);
  EXPECT_EQ(list->services(1).name(), "netstructer.health.v1.Health");
  EXPECT_EQ(list->services(2).name(), "netstructer.reflection.v1.Reflection");
  const reflection::v1::ServiceInfo& echo = list->services(0);
  EXPECT_EQ(echo.name(), "netstructer.test.rpc.Echo");
  struct Expected {
    const char* name;
    bool client_streaming;
    bool server_streaming;
  };
  const Expected expected[] = {{"Unary", false, false},
                               {"Sum", true, false},
                               {"Range", false, true},
                               {"Chat", true, true}};
  ASSERT_EQ(echo.methods_size(), 4);
  for (int i = 0; i < 4; ++i) {
    const MethodInfo& m = echo.methods(i);
    EXPECT_EQ(m.name(), expected[i].name);
    EXPECT_EQ(m.path(),
              std::string("/netstructer.test.rpc.Echo/") + expected[i].name);
    EXPECT_EQ(m.input_type(), "netstructer.test.rpc.EchoRequest") << m.name();
    EXPECT_EQ(m.output_type(), "netstructer.test.rpc.EchoReply") << m.name();
    EXPECT_EQ(m.client_streaming(), expected[i].client_streaming) << m.name();
    EXPECT_EQ(m.server_streaming(), expected[i].server_streaming) << m.name();
  }
  // The built-ins describe themselves too.
  ASSERT_EQ(list->services(2).methods_size(), 2);
  EXPECT_EQ(list->services(2).methods(1).path(),
            "/netstructer.reflection.v1.Reflection/FileContainingSymbol");
  EXPECT_EQ(list->services(2).methods(1).output_type(),
            "netstructer.reflection.v1.FileDescriptorResponse");
}

TEST(ReflectionService, FileContainingSymbolBuildsAPoolWhereTheServiceIsFound) {
  EchoFixture f;
  for (const char* symbol :
       {"netstructer.test.rpc.Echo", "netstructer.test.rpc.EchoRequest",
        "netstructer.test.rpc.Echo.Range",
        "netstructer.test.rpc.EchoReply.text"}) {
    absl::StatusOr<FileDescriptorResponse> files =
        FileContaining(f.channel(), symbol);
    ASSERT_TRUE(files.ok()) << symbol << ": " << files.status();
    EXPECT_EQ(FileNames(*files),
              std::vector<std::string>{"tests/rpc/echo.proto"});
    DescriptorPool pool;
    for (const std::string& bytes : files->file_descriptor_proto()) {
      FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      ASSERT_NE(pool.BuildFile(file), nullptr) << file.name();
    }
    const google::protobuf::ServiceDescriptor* echo =
        pool.FindServiceByName("netstructer.test.rpc.Echo");
    ASSERT_NE(echo, nullptr) << symbol;
    ASSERT_EQ(echo->method_count(), 4);
    EXPECT_TRUE(echo->FindMethodByName("Range")->server_streaming());
    EXPECT_EQ(echo->FindMethodByName("Unary")->input_type()->full_name(),
              "netstructer.test.rpc.EchoRequest");
    // Not the generated pool's descriptor: a copy built from the bytes.
    EXPECT_NE(echo, test::rpc::EchoRequest::descriptor()->file()->service(0));
  }
}

TEST(ReflectionService, UnknownSymbolIsNotFound) {
  EchoFixture f;
  for (const char* symbol :
       {"netstructer.test.rpc.Nope", "", ".netstructer.test.rpc.Echo"}) {
    absl::StatusOr<FileDescriptorResponse> files =
        FileContaining(f.channel(), symbol);
    EXPECT_EQ(files.status().code(), absl::StatusCode::kNotFound) << symbol;
  }
  EXPECT_THAT(FileContaining(f.channel(), "netstructer.test.rpc.Nope")
                  .status()
                  .message(),
              HasSubstr("netstructer.test.rpc.Nope"));
}

TEST(ReflectionService, DependenciesComeFirstEachOnce) {
  // top imports left and bottom; left imports bottom.
  ASSERT_NE(test::reflection::Top::descriptor(), nullptr);  // Linked in.
  ReflectionService reflection([] { return std::vector<Service*>{}; });
  FileContainingSymbolRequest request;
  request.set_symbol("netstructer.test.reflection.Top");
  FileDescriptorResponse response;
  ASSERT_TRUE(
      reflection.FileContainingSymbol(nullptr, &request, &response).ok());
  EXPECT_EQ(
      FileNames(response),
      (std::vector<std::string>{"tests/service/builtin/reflection_bottom.proto",
                                "tests/service/builtin/reflection_left.proto",
                                "tests/service/builtin/reflection_top.proto"}));
  // Added in that order, every file finds its imports.
  DescriptorPool pool;
  for (const std::string& bytes : response.file_descriptor_proto()) {
    FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    ASSERT_NE(pool.BuildFile(file), nullptr) << file.name();
  }
  EXPECT_NE(pool.FindMessageTypeByName("netstructer.test.reflection.Top"),
            nullptr);
}

// A service written by hand: its descriptor is in no pool.
class HandWritten final : public Service {
 public:
  HandWritten() : Service("hand.Written") {
    AddMethod(internal::MethodKind::kServerStreaming, "/hand.Written/Watch",
              internal::MethodHandler(internal::MethodKind::kServerStreaming,
                                      [](Service*, internal::ServerCall*) {
                                        return absl::OkStatus();
                                      }));
  }
};

TEST(ReflectionService, AServiceWithoutADescriptorIsListedWithoutTypes) {
  HandWritten hand;
  ReflectionService reflection(
      [&hand] { return std::vector<Service*>{&hand}; });
  ListServicesResponse response;
  ListServicesRequest request;
  ASSERT_TRUE(reflection.ListServices(nullptr, &request, &response).ok());
  ASSERT_EQ(response.services_size(), 1);
  ASSERT_EQ(response.services(0).methods_size(), 1);
  const MethodInfo& watch = response.services(0).methods(0);
  EXPECT_EQ(watch.name(), "Watch");
  EXPECT_EQ(watch.path(), "/hand.Written/Watch");
  EXPECT_EQ(watch.input_type(), "");
  EXPECT_FALSE(watch.client_streaming());
  EXPECT_TRUE(watch.server_streaming());
}

}  // namespace
}  // namespace netstructer::builtin
