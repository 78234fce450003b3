#include "netstructer/tools/reflection_client.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "netstructer/client/client_call.h"
#include "service/builtin/reflection.ns.h"

namespace netstructer::tools {
namespace {

namespace pb = google::protobuf;
using reflection::v1::Reflection;

// The reflection call's own failure, reworded when the server has no
// reflection at all.
absl::Status ReflectionError(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnimplemented) return status;
  return absl::UnimplementedError(absl::StrCat(
      "the server offers no reflection (", Reflection::kServiceName,
      "; is ServerOptions::builtin_services off?): ", status.message()));
}

const char* KindName(const pb::MethodDescriptor& method) {
  if (method.client_streaming() && method.server_streaming()) {
    return "a bidirectional-streaming";
  }
  return method.client_streaming() ? "a client-streaming"
                                   : "a server-streaming";
}

}  // namespace

absl::StatusOr<MethodName> ParseMethodName(absl::string_view text) {
  absl::string_view rest = text;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  const size_t slash = rest.rfind('/');
  if (slash == absl::string_view::npos || slash == 0 ||
      slash + 1 == rest.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not SERVICE/METHOD (like greeter.Greeter/SayHello)"));
  }
  return MethodName{std::string(rest.substr(0, slash)),
                    std::string(rest.substr(slash + 1))};
}

absl::StatusOr<std::vector<std::string>> ListMethods(
    std::shared_ptr<Channel> channel, const CallOptions& options) {
  absl::StatusOr<reflection::v1::ListServicesResponse> list =
      Reflection::Stub(channel).ListServices({}, options);
  if (!list.ok()) return ReflectionError(list.status());
  std::vector<std::string> out;
  for (const reflection::v1::ServiceInfo& service : list->services()) {
    std::vector<std::string> methods;
    for (const reflection::v1::MethodInfo& m : service.methods()) {
      methods.push_back(m.name());
    }
    std::sort(methods.begin(), methods.end());
    for (const std::string& m : methods) {
      out.push_back(absl::StrCat(service.name(), "/", m));
    }
  }
  return out;
}

absl::StatusOr<std::string> CallWithJson(std::shared_ptr<Channel> channel,
                                         const MethodName& name,
                                         absl::string_view json,
                                         const CallOptions& options) {
  // The descriptors of the service's file and its imports.
  reflection::v1::FileContainingSymbolRequest symbol;
  symbol.set_symbol(name.service);
  absl::StatusOr<reflection::v1::FileDescriptorResponse> files =
      Reflection::Stub(channel).FileContainingSymbol(symbol, options);
  if (!files.ok()) {
    if (files.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(
          absl::StrCat("the server knows no service ", name.service));
    }
    return ReflectionError(files.status());
  }
  pb::SimpleDescriptorDatabase database;
  for (const std::string& bytes : files->file_descriptor_proto()) {
    pb::FileDescriptorProto file;
    if (!file.ParseFromString(bytes) || !database.Add(file)) {
      return absl::DataLossError(
          "the server's reflection sent a file descriptor that does not parse "
          "or conflicts with another");
    }
  }
  pb::DescriptorPool pool(&database);
  const pb::ServiceDescriptor* service = pool.FindServiceByName(name.service);
  if (service == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(name.service, " is not a service on this server"));
  }
  const pb::MethodDescriptor* method = service->FindMethodByName(name.method);
  if (method == nullptr) {
    std::vector<std::string> known;
    for (int i = 0; i < service->method_count(); ++i) {
      known.push_back(service->method(i)->name());
    }
    return absl::NotFoundError(
        absl::StrCat("service ", name.service, " has no method ", name.method,
                     " (it has: ", absl::StrJoin(known, ", "), ")"));
  }
  if (method->client_streaming() || method->server_streaming()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name.service, "/", name.method, " is ", KindName(*method),
                     " method; call makes unary calls only"));
  }

  pb::DynamicMessageFactory factory(&pool);
  std::unique_ptr<pb::Message> request(
      factory.GetPrototype(method->input_type())->New());
  if (pb::util::Status s = pb::util::JsonStringToMessage(
          pb::StringPiece(json.data(), json.size()), request.get());
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the request is not JSON for ", method->input_type()->full_name(), ": ",
        s.message().ToString()));
  }
  std::string request_bytes;
  if (!request->SerializeToString(&request_bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot serialize the ", method->input_type()->full_name()));
  }
  const std::string path = name.Path();  // Outlives the call.
  absl::StatusOr<std::string> response_bytes = internal::RawUnaryCall(
      channel.get(), path.c_str(), request_bytes, options);
  if (!response_bytes.ok()) return response_bytes.status();
  std::unique_ptr<pb::Message> response(
      factory.GetPrototype(method->output_type())->New());
  if (!response->ParseFromString(*response_bytes)) {
    return absl::DataLossError(absl::StrCat(
        "the response does not parse as ", method->output_type()->full_name()));
  }
  std::string out;
  if (pb::util::Status s = pb::util::MessageToJsonString(*response, &out);
      !s.ok()) {
    return absl::InternalError(absl::StrCat(
        "cannot print the response as JSON: ", s.message().ToString()));
  }
  return out;
}

}  // namespace netstructer::tools
