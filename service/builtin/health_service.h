// netstructer.health.v1.Health (health.proto), as gRPC's grpc.health.v1:
// every service the server offers starts SERVING, as does the server as a
// whole (the empty name); SetServingStatus changes that.
//
// Threads: thread-safe.
#ifndef NETSTRUCTER_SERVICE_BUILTIN_HEALTH_SERVICE_H_
#define NETSTRUCTER_SERVICE_BUILTIN_HEALTH_SERVICE_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "netstructer/service/builtin/service_list.h"
#include "netstructer/transport/mutex.h"
#include "service/builtin/health.ns.h"

namespace netstructer::builtin {

class HealthService final : public health::v1::Health::Service {
 public:
  // `services` says which names exist. It must stay callable as long as
  // this object is registered with a server.
  explicit HealthService(ServiceList services);

  // Sets the status Check reports for `service_name` ("" = the server as a
  // whole). A name the server does not offer becomes known too, so a
  // process can report on things that are not RPC services ("db").
  void SetServingStatus(absl::string_view service_name, bool serving);

  // Unknown name: NOT_FOUND.
  absl::Status Check(ServerContext* context,
                     const health::v1::HealthCheckRequest* request,
                     health::v1::HealthCheckResponse* response) override;

 private:
  const ServiceList services_;
  mutable Mutex mu_;
  // Explicitly set statuses; the rest follow from `services_`.
  absl::flat_hash_map<std::string, bool> serving_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netstructer::builtin

#endif  // NETSTRUCTER_SERVICE_BUILTIN_HEALTH_SERVICE_H_
