// The Python output of protoc-gen-netstructer (parameter "python"): for
// NAME.proto, NAME_ns.py beside protoc's NAME_pb2.py, shaped like gRPC's
// NAME_pb2_grpc.py: a `SvcStub(channel)` per service, a `SvcServicer` base
// class and `add_SvcServicer_to_server(servicer, server)`, over the
// `netstructer.rpc` module of python/ (docs/RPC_API.md, "From Python").
#ifndef NETSTRUCTER_TOOLS_PROTOC_PLUGIN_PYTHON_GENERATOR_H_
#define NETSTRUCTER_TOOLS_PROTOC_PLUGIN_PYTHON_GENERATOR_H_

#include <google/protobuf/compiler/code_generator.h>
#include <google/protobuf/descriptor.h>

#include <string>

namespace netstructer::protoc_plugin {

// The Python runtime version generated modules check at import
// (netstructer.rpc.RUNTIME_VERSION). Bump both together.
inline constexpr int kPythonRuntimeVersion = 1;

// Writes NAME_ns.py (always, even for a file without services). False with
// `*error` for a service or method whose name is a Python keyword, or whose
// generated names collide.
bool GeneratePython(const google::protobuf::FileDescriptor* file,
                    google::protobuf::compiler::GeneratorContext* context,
                    std::string* error);

// The module protoc's Python generator writes for a file:
// "a/b-c.proto" -> "a.b_c_pb2".
std::string PythonModuleName(const std::string& proto_file_name);

// The alias NAME_ns.py imports that module as (gRPC's convention):
// "a.b_c_pb2" -> "a_dot_b__c__pb2".
std::string PythonModuleAlias(const std::string& module_name);

}  // namespace netstructer::protoc_plugin

#endif  // NETSTRUCTER_TOOLS_PROTOC_PLUGIN_PYTHON_GENERATOR_H_
