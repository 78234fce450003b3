// netstructer.reflection.v1.Reflection (reflection.proto): the server's
// services and methods, and the descriptors of their messages, for generic
// clients (`netstructer list`, `netstructer call`).
//
// Security: any authenticated client learns the schema of every message
// linked into the server (as with gRPC reflection). A server whose schema
// is secret sets ServerOptions::builtin_services = false.
//
// Threads: thread-safe (stateless beyond what it borrows).
#ifndef NETSTRUCTER_SERVICE_BUILTIN_REFLECTION_SERVICE_H_
#define NETSTRUCTER_SERVICE_BUILTIN_REFLECTION_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "netstructer/service/builtin/service_list.h"
#include "service/builtin/reflection.ns.h"

namespace netstructer::builtin {

class ReflectionService final : public reflection::v1::Reflection::Service {
 public:
  // `services` lists what the server offers; `pool` is where descriptors
  // are looked up by full name (generated code registers its files in the
  // generated pool). Both must outlive this object's registration.
  explicit ReflectionService(
      ServiceList services,
      const google::protobuf::DescriptorPool* pool =
          google::protobuf::DescriptorPool::generated_pool());

  absl::Status ListServices(
      ServerContext* context,
      const reflection::v1::ListServicesRequest* request,
      reflection::v1::ListServicesResponse* response) override;
  // NOT_FOUND for a symbol the pool does not know.
  absl::Status FileContainingSymbol(
      ServerContext* context,
      const reflection::v1::FileContainingSymbolRequest* request,
      reflection::v1::FileDescriptorResponse* response) override;

 private:
  const ServiceList services_;
  const google::protobuf::DescriptorPool* const pool_;
};

// Serialized FileDescriptorProtos of `file` and everything it imports,
// transitively, each once, dependencies first.
std::vector<std::string> SerializedFileWithDependencies(
    const google::protobuf::FileDescriptor* file);

}  // namespace netstructer::builtin

#endif  // NETSTRUCTER_SERVICE_BUILTIN_REFLECTION_SERVICE_H_
