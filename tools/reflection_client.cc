#include "netstructer/tools/reflection_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "service/builtin/reflection.ns.h"

namespace netstructer::tools {
namespace {

using reflection::v1::Reflection;

}  // namespace

absl::Status ExplainReflectionError(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnimplemented) return status;
  return absl::UnimplementedError(absl::StrCat(
      "the server offers no reflection (", Reflection::kServiceName,
      "; is ServerOptions::builtin_services off? --proto or --protoset "
      "give the types instead): ", status.message()));
}

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
  if (!list.ok()) return ExplainReflectionError(list.status());
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

}  // namespace netstructer::tools
