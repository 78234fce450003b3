// Unit tests of the protoc-gen-netstructer generator library, driven through
// CodeGenerator::Generate with descriptors parsed from .proto text (no
// protoc). The full generated text is covered by golden_test.

#include "netstructer/tools/protoc_plugin/generator.h"
#include "netstructer/tools/protoc_plugin/python_generator.h"

#include <google/protobuf/compiler/parser.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace netstructer::protoc_plugin {
namespace {

using ::google::protobuf::DescriptorPool;
using ::google::protobuf::FileDescriptor;
using ::google::protobuf::FileDescriptorProto;

// Collects the generated files in memory.
class MemoryGeneratorContext final
    : public google::protobuf::compiler::GeneratorContext {
 public:
  google::protobuf::io::ZeroCopyOutputStream* Open(
      const std::string& filename) override {
    return new google::protobuf::io::StringOutputStream(&files_[filename]);
  }
  const std::map<std::string, std::string>& files() const { return files_; }

 private:
  std::map<std::string, std::string> files_;
};

// Parses .proto text into `pool` as `name`; fails the test on errors.
const FileDescriptor* BuildFile(DescriptorPool* pool, const std::string& name,
                                const std::string& text) {
  google::protobuf::io::ArrayInputStream input(text.data(),
                                               static_cast<int>(text.size()));
  google::protobuf::io::Tokenizer tokenizer(&input, nullptr);
  google::protobuf::compiler::Parser parser;
  FileDescriptorProto proto;
  EXPECT_TRUE(parser.Parse(&tokenizer, &proto)) << name;
  proto.set_name(name);
  const FileDescriptor* file = pool->BuildFile(proto);
  EXPECT_NE(file, nullptr) << name;
  return file;
}

constexpr char kServices[] = R"(
  syntax = "proto3";
  package a.b;
  message Outer { message Inner { message Deepest {} } }
  message Req {}
  service Svc {
    rpc Get(Outer.Inner) returns (Outer.Inner.Deepest);
  }
)";

TEST(NetStructerGenerator, UnknownParameterIsAnError) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "x/svc.proto", kServices);
  ASSERT_NE(file, nullptr);
  NetStructerGenerator generator;
  MemoryGeneratorContext context;
  std::string error;
  EXPECT_FALSE(
      generator.Generate(file, "runtime_include=foo.h", &context, &error));
  EXPECT_NE(error.find("unknown parameter 'runtime_include'"),
            std::string::npos)
      << error;
  EXPECT_TRUE(context.files().empty());
}

TEST(NetStructerGenerator, PythonParameterWritesOnlyTheNsModule) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "x/my-svc.proto", kServices);
  ASSERT_NE(file, nullptr);
  MemoryGeneratorContext context;
  std::string error;
  ASSERT_TRUE(NetStructerGenerator().Generate(file, "python", &context, &error))
      << error;
  ASSERT_EQ(context.files().size(), 1u);
  const auto& [name, text] = *context.files().begin();
  EXPECT_EQ(name, "x/my_svc_ns.py");
  EXPECT_NE(text.find("from x import my_svc_pb2 as x_dot_my__svc__pb2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("class SvcStub(object):"), std::string::npos) << text;
  EXPECT_NE(text.find("x_dot_my__svc__pb2.Outer.Inner.SerializeToString"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("def add_SvcServicer_to_server(servicer, server):"),
            std::string::npos)
      << text;
}

TEST(NetStructerGenerator, PythonKeywordNamesAreRefused) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "x/kw.proto", R"(
    syntax = "proto3";
    package a;
    message M {}
    service Svc { rpc import(M) returns (M); }
  )");
  ASSERT_NE(file, nullptr);
  MemoryGeneratorContext context;
  std::string error;
  EXPECT_FALSE(NetStructerGenerator().Generate(file, "python", &context, &error));
  EXPECT_NE(error.find("method a.Svc.import: its name is a Python keyword"),
            std::string::npos)
      << error;
  // C++ has no such keyword: the C++ output is fine.
  EXPECT_TRUE(NetStructerGenerator().Generate(file, "", &context, &error)) << error;
}

TEST(PythonModuleName, FollowsProtoc) {
  EXPECT_EQ(PythonModuleName("a/b-c.proto"), "a.b_c_pb2");
  EXPECT_EQ(PythonModuleName("top.proto"), "top_pb2");
  EXPECT_EQ(PythonModuleAlias("a.b_c_pb2"), "a_dot_b__c__pb2");
}

TEST(NetStructerGenerator, EmptyParameterIsAccepted) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "x/svc.proto", kServices);
  ASSERT_NE(file, nullptr);
  MemoryGeneratorContext context;
  std::string error;
  EXPECT_TRUE(NetStructerGenerator().Generate(file, "", &context, &error))
      << error;
}

TEST(NetStructerGenerator, FileWithoutServicesGetsBothFilesWithNoClasses) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "x/plain.proto", R"(
    syntax = "proto3";
    package a.b;
    message Only {}
  )");
  ASSERT_NE(file, nullptr);
  MemoryGeneratorContext context;
  std::string error;
  ASSERT_TRUE(NetStructerGenerator().Generate(file, "", &context, &error))
      << error;
  ASSERT_EQ(context.files().size(), 2u);
  const std::string& h = context.files().at("x/plain.ns.h");
  const std::string& cc = context.files().at("x/plain.ns.cc");
  EXPECT_NE(h.find("#include \"netstructer/client/rpc_runtime.h\""), std::string::npos);
  EXPECT_NE(h.find("#include \"x/plain.pb.h\""), std::string::npos);
  EXPECT_NE(h.find("NETSTRUCTER_RPC_RUNTIME_VERSION != 3"), std::string::npos);
  EXPECT_EQ(h.find("class "), std::string::npos);
  EXPECT_EQ(h.find("namespace"), std::string::npos);
  EXPECT_NE(cc.find("#include \"x/plain.ns.h\""), std::string::npos);
  EXPECT_EQ(cc.find("namespace"), std::string::npos);
}

TEST(NetStructerGenerator, NestedMessagesAreMangledLikeProtocCpp) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "x/svc.proto", kServices);
  ASSERT_NE(file, nullptr);
  const auto* inner = pool.FindMessageTypeByName("a.b.Outer.Inner");
  const auto* deepest = pool.FindMessageTypeByName("a.b.Outer.Inner.Deepest");
  ASSERT_NE(inner, nullptr);
  ASSERT_NE(deepest, nullptr);
  EXPECT_EQ(QualifiedCppClassName(inner), "::a::b::Outer_Inner");
  EXPECT_EQ(QualifiedCppClassName(deepest), "::a::b::Outer_Inner_Deepest");

  MemoryGeneratorContext context;
  std::string error;
  ASSERT_TRUE(NetStructerGenerator().Generate(file, "", &context, &error))
      << error;
  const std::string& h = context.files().at("x/svc.ns.h");
  EXPECT_NE(h.find("::absl::StatusOr<::a::b::Outer_Inner_Deepest> Get("),
            std::string::npos)
      << h;
  EXPECT_NE(h.find("namespace a::b {"), std::string::npos);
}

TEST(NetStructerGenerator, KeywordAndUnpackagedNames) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "kw.proto", R"(
    syntax = "proto3";
    message class { message Inner {} }
  )");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(QualifiedCppClassName(pool.FindMessageTypeByName("class")),
            "::class_");
  EXPECT_EQ(QualifiedCppClassName(pool.FindMessageTypeByName("class.Inner")),
            "::class_Inner");
}

TEST(NetStructerGenerator, AsyncNameCollisionIsAnError) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "x/clash.proto", R"(
    syntax = "proto3";
    package a;
    message M {}
    service Svc {
      rpc Get(M) returns (M);
      rpc GetAsync(M) returns (M);
    }
  )");
  ASSERT_NE(file, nullptr);
  MemoryGeneratorContext context;
  std::string error;
  EXPECT_FALSE(NetStructerGenerator().Generate(file, "", &context, &error));
  EXPECT_NE(error.find("a.Svc.GetAsync"), std::string::npos) << error;
}

TEST(NetStructerGenerator, MethodNamedStubIsAnError) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "x/stub.proto", R"(
    syntax = "proto3";
    package a;
    message M {}
    service Svc { rpc Stub(M) returns (M); }
  )");
  ASSERT_NE(file, nullptr);
  MemoryGeneratorContext context;
  std::string error;
  EXPECT_FALSE(NetStructerGenerator().Generate(file, "", &context, &error));
  EXPECT_NE(error.find("Svc::Stub"), std::string::npos) << error;
}

// Every name the generated code cannot hold is refused with a message that
// names the proto element and the generated member it collides with; every
// other name compiles and runs (reserved_names_test).
TEST(NetStructerGenerator, EveryNameTheCodeCannotHoldIsRefusedClearly) {
  struct Case {
    std::string proto;     // The service, in package a.
    std::string element;   // What the message must name.
    std::string collides;  // And the generated name.
  };
  const Case cases[] = {
      {"service Stub { rpc Get(M) returns (M); }", "'a.Stub'", "Stub::Stub"},
      {"service Service { rpc Get(M) returns (M); }", "'a.Service'",
       "Service::Service"},
      {"service kServiceName { rpc Get(M) returns (M); }", "'a.kServiceName'",
       "kServiceName::kServiceName"},
      {"service NewStub { rpc Get(M) returns (M); }", "'a.NewStub'",
       "NewStub::NewStub"},
      {"service Svc { rpc Stub(M) returns (M); }", "'a.Svc.Stub'", "Svc::Stub"},
      {"service Svc { rpc Service(M) returns (M); }", "'a.Svc.Service'",
       "Svc::Service"},
      {"service Svc { rpc channel_(M) returns (M); }", "'a.Svc.channel_'",
       "Svc::Stub::channel_"},
      {"service Svc { rpc Get(M) returns (M); rpc GetAsync(M) returns (M); }",
       "'a.Svc.GetAsync'", "asynchronous stub method"},
      {"service Svc { rpc Watch(M) returns (stream M); "
       "rpc WatchAsync(M) returns (M); }",
       "'a.Svc.WatchAsync'", "asynchronous stub method"},
      {"service Svc { rpc Chat(stream M) returns (stream M); "
       "rpc ChatReactor(M) returns (M); }",
       "'a.Svc.ChatReactor'", "reactor factory"},
      {"service Svc { rpc Put(stream M) returns (M); "
       "rpc PutReactor(stream M) returns (M); }",
       "'a.Svc.PutReactor'", "reactor factory"},
      {"service class { rpc Get(M) returns (M); }", "'a.class'", "C++ keyword"},
      {"service Svc { rpc delete(M) returns (M); }", "'a.Svc.delete'",
       "C++ keyword"},
  };
  int n = 0;
  for (const Case& c : cases) {
    DescriptorPool pool;
    const std::string name = "x/reserved" + std::to_string(n++) + ".proto";
    const FileDescriptor* file = BuildFile(
        &pool, name,
        "syntax = \"proto3\"; package a; message M {} " + c.proto);
    ASSERT_NE(file, nullptr) << c.proto;
    MemoryGeneratorContext context;
    std::string error;
    EXPECT_FALSE(NetStructerGenerator().Generate(file, "", &context, &error))
        << c.proto;
    EXPECT_NE(error.find(c.element), std::string::npos) << c.proto << ": " << error;
    EXPECT_NE(error.find(c.collides), std::string::npos) << c.proto << ": " << error;
  }
}

TEST(NetStructerGenerator, MethodConstantsNeverCollide) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "x/names.proto", R"(
    syntax = "proto3";
    package a;
    message M {}
    service A_B { rpc C(stream M) returns (stream M); }
    service A {
      rpc B_C(stream M) returns (M);
      rpc B_C_2(M) returns (stream M);
    }
  )");
  ASSERT_NE(file, nullptr);
  MemoryGeneratorContext context;
  std::string error;
  ASSERT_TRUE(NetStructerGenerator().Generate(file, "", &context, &error))
      << error;
  const std::string& cc = context.files().at("x/names.ns.cc");
  EXPECT_NE(cc.find("constexpr char kA_B_C[] = \"/a.A_B/C\";"),
            std::string::npos)
      << cc;
  EXPECT_NE(cc.find("constexpr char kA_B_C_2[] = \"/a.A/B_C\";"),
            std::string::npos)
      << cc;
  EXPECT_NE(cc.find("constexpr char kA_B_C_2_2[] = \"/a.A/B_C_2\";"),
            std::string::npos)
      << cc;
}

TEST(NetStructerGenerator, OutputIsDeterministic) {
  DescriptorPool pool;
  const FileDescriptor* file = BuildFile(&pool, "x/svc.proto", kServices);
  ASSERT_NE(file, nullptr);
  MemoryGeneratorContext first;
  MemoryGeneratorContext second;
  std::string error;
  ASSERT_TRUE(NetStructerGenerator().Generate(file, "", &first, &error));
  ASSERT_TRUE(NetStructerGenerator().Generate(file, "", &second, &error));
  EXPECT_EQ(first.files(), second.files());
}

}  // namespace
}  // namespace netstructer::protoc_plugin
