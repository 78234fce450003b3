// The Calculator service of calc.proto, for the consumer's tests.
#ifndef CALC_CALCULATOR_SERVICE_H_
#define CALC_CALCULATOR_SERVICE_H_

#include "absl/status/status.h"
#include "calc/calc.ns.h"

namespace calc {

// Stateless, hence thread-safe.
class CalculatorService final : public Calculator::Service {
 public:
  absl::Status Add(netstructer::ServerContext* context,
                   const AddRequest* request, AddReply* reply) override {
    reply->set_sum(request->a() + request->b());
    // Quiet: the result need not be checked (a refusal fails the call).
    context->AddTrailingMetadata("operation", "add");
    return absl::OkStatus();
  }
};

}  // namespace calc

#endif  // CALC_CALCULATOR_SERVICE_H_
