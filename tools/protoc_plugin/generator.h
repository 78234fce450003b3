// The protoc-gen-netstructer code generator: turns the services of a .proto
// file into NAME.ns.h / NAME.ns.cc, a typed client stub and a server base
// class over the NetStructer RPC runtime (docs/RPC_API.md).
//
// The generator is a library so that tests can drive it without protoc;
// protoc_gen_netstructer_main.cc is only the plugin entry point.

#ifndef NETSTRUCTER_TOOLS_PROTOC_PLUGIN_GENERATOR_H_
#define NETSTRUCTER_TOOLS_PROTOC_PLUGIN_GENERATOR_H_

#include <google/protobuf/compiler/code_generator.h>
#include <google/protobuf/descriptor.h>

#include <cstdint>
#include <string>

namespace netstructer::protoc_plugin {

// The runtime version the generated code is written against. The generated
// header refuses to compile unless netstructer/client/rpc_runtime.h defines
// NETSTRUCTER_RPC_RUNTIME_VERSION to exactly this value. Bump it (and the
// runtime's) whenever the generated code starts to need a different runtime
// API.
inline constexpr int kRuntimeVersion = 3;

// The one runtime header every generated header includes.
inline constexpr char kRuntimeHeader[] = "netstructer/client/rpc_runtime.h";

// Generates NAME.ns.h and NAME.ns.cc for NAME.proto. Both files are always
// written, even for a file without services (they then hold only includes),
// so that build rules can declare their outputs without reading the .proto.
//
// Parameters: none for C++; "python" writes NAME_ns.py instead
// (python_generator.h). Any other parameter is an error ("unknown parameter
// 'x'"), so a typo never silently changes the output.
//
// Thread-safety: stateless; Generate may be called concurrently.
class NetStructerGenerator final
    : public google::protobuf::compiler::CodeGenerator {
 public:
  bool Generate(const google::protobuf::FileDescriptor* file,
                const std::string& parameter,
                google::protobuf::compiler::GeneratorContext* context,
                std::string* error) const override;

  uint64_t GetSupportedFeatures() const override {
    return FEATURE_PROTO3_OPTIONAL;
  }
};

// The fully qualified C++ name protoc's C++ generator gives a message:
// package "a.b", message "Outer.Inner" -> "::a::b::Outer_Inner". A name that
// is a C++ keyword gets a trailing '_' as protoc's does.
std::string QualifiedCppClassName(const google::protobuf::Descriptor* message);

// "a/b/c.proto" -> "a/b/c" (the NAME of NAME.ns.h).
std::string StripProtoExtension(const std::string& file_name);

}  // namespace netstructer::protoc_plugin

#endif  // NETSTRUCTER_TOOLS_PROTOC_PLUGIN_GENERATOR_H_
