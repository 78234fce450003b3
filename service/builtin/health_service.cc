#include "netstructer/service/builtin/health_service.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace netstructer::builtin {

using health::v1::HealthCheckResponse;

HealthService::HealthService(ServiceList services)
    : services_(std::move(services)) {}

void HealthService::SetServingStatus(absl::string_view service_name,
                                     bool serving) {
  MutexLock lock(&mu_);
  serving_[service_name] = serving;
}

absl::Status HealthService::Check(ServerContext* context,
                                  const health::v1::HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  const std::string& name = request->service();
  std::optional<bool> serving;
  {
    MutexLock lock(&mu_);
    if (auto it = serving_.find(name); it != serving_.end())
      serving = it->second;
  }
  if (!serving.has_value() && name.empty()) serving = true;
  if (!serving.has_value()) {
    // Not under mu_: `services_` takes the server's mutex.
    for (const ::netstructer::Service* service : services_()) {
      if (service->name() == name) {
        serving = true;
        break;
      }
    }
  }
  if (!serving.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("the server knows no service named '", name, "'"));
  }
  response->set_status(*serving ? HealthCheckResponse::SERVING
                                : HealthCheckResponse::NOT_SERVING);
  return absl::OkStatus();
}

}  // namespace netstructer::builtin
