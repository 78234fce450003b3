// GreeterService: the implementation of greeter.Greeter (greeter.proto),
// shared by the server binary and the tests.
#ifndef NETSTRUCTER_EXAMPLES_GREETER_GREETER_SERVICE_H_
#define NETSTRUCTER_EXAMPLES_GREETER_GREETER_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "examples/greeter/greeter.ns.h"

namespace greeter {

// "Hello, NAME".
std::string Greeting(absl::string_view name);

// Stateless, hence thread-safe: handlers run concurrently on the server's
// handler threads. Must outlive the Server it is registered with.
class GreeterService final : public Greeter::Service {
 public:
  // INVALID_ARGUMENT for an empty name.
  absl::Status SayHello(netstructer::ServerContext* context,
                        const HelloRequest* request,
                        HelloReply* reply) override;
  // Replies to each request as it arrives; the first empty name ends the
  // call with INVALID_ARGUMENT (the replies before it were sent).
  absl::Status SayHelloStream(
      netstructer::ServerContext* context,
      netstructer::ServerReaderWriter<HelloReply, HelloRequest>* stream)
      override;
  // Greeting(name) `count` times (once for 0); INVALID_ARGUMENT for an
  // empty name or a count outside 0..kMaxRepeat.
  absl::Status SayHelloRepeatedly(
      netstructer::ServerContext* context, const HelloRequest* request,
      netstructer::ServerWriter<HelloReply>* writer) override;
  // "Hello, A, B and C" for every name read; INVALID_ARGUMENT for an empty
  // name or no name at all.
  absl::Status SayHelloToAll(netstructer::ServerContext* context,
                             netstructer::ServerReader<HelloRequest>* reader,
                             HelloReply* reply) override;

  static constexpr int kMaxRepeat = 100;
};

}  // namespace greeter

#endif  // NETSTRUCTER_EXAMPLES_GREETER_GREETER_SERVICE_H_
