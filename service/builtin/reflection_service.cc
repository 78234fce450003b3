#include "netstructer/service/builtin/reflection_service.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"

namespace netstructer::builtin {
namespace {

using google::protobuf::FileDescriptor;
using internal::MethodKind;

// Post-order walk: a file after all of its imports. The recursion is as
// deep as the imports of files compiled into the server (trusted; protoc
// refuses cycles), never driven by a client's bytes.
void AppendPostOrder(const FileDescriptor* file,
                     absl::flat_hash_set<const FileDescriptor*>* seen,
                     std::vector<std::string>* out) {
  if (!seen->insert(file).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) {
    AppendPostOrder(file->dependency(i), seen, out);
  }
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  out->push_back(proto.SerializeAsString());
}

}  // namespace

std::vector<std::string> SerializedFileWithDependencies(
    const FileDescriptor* file) {
  absl::flat_hash_set<const FileDescriptor*> seen;
  std::vector<std::string> out;
  AppendPostOrder(file, &seen, &out);
  return out;
}

ReflectionService::ReflectionService(
    ServiceList services, const google::protobuf::DescriptorPool* pool)
    : services_(std::move(services)), pool_(pool) {}

absl::Status ReflectionService::ListServices(
    ServerContext* context, const reflection::v1::ListServicesRequest* request,
    reflection::v1::ListServicesResponse* response) {
  for (const ::netstructer::Service* service : services_()) {
    reflection::v1::ServiceInfo* info = response->add_services();
    info->set_name(service->name());
    const google::protobuf::ServiceDescriptor* descriptor =
        pool_->FindServiceByName(service->name());
    for (const ::netstructer::Service::Method& method : service->methods()) {
      reflection::v1::MethodInfo* m = info->add_methods();
      m->set_name(method.name);
      m->set_path(method.path);
      m->set_client_streaming(method.kind == MethodKind::kClientStreaming ||
                              method.kind == MethodKind::kBidiStreaming);
      m->set_server_streaming(method.kind == MethodKind::kServerStreaming ||
                              method.kind == MethodKind::kBidiStreaming);
      const google::protobuf::MethodDescriptor* md =
          descriptor == nullptr ? nullptr
                                : descriptor->FindMethodByName(method.name);
      if (md != nullptr) {
        m->set_input_type(md->input_type()->full_name());
        m->set_output_type(md->output_type()->full_name());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ReflectionService::FileContainingSymbol(
    ServerContext* context,
    const reflection::v1::FileContainingSymbolRequest* request,
    reflection::v1::FileDescriptorResponse* response) {
  const FileDescriptor* file =
      pool_->FindFileContainingSymbol(request->symbol());
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no descriptor for the symbol '", request->symbol(), "'"));
  }
  for (std::string& bytes : SerializedFileWithDependencies(file)) {
    response->add_file_descriptor_proto(std::move(bytes));
  }
  return absl::OkStatus();
}

}  // namespace netstructer::builtin
