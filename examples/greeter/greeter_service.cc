#include "netstructer/examples/greeter/greeter_service.h"

#include "absl/strings/str_cat.h"

namespace greeter {
namespace {

absl::Status CheckName(const HelloRequest& request) {
  if (request.name().empty()) {
    return absl::InvalidArgumentError("name is empty");
  }
  return absl::OkStatus();
}

}  // namespace

std::string Greeting(absl::string_view name) {
  return absl::StrCat("Hello, ", name);
}

absl::Status GreeterService::SayHello(netstructer::ServerContext* context,
                                      const HelloRequest* request,
                                      HelloReply* reply) {
  if (absl::Status s = CheckName(*request); !s.ok()) return s;
  reply->set_message(Greeting(request->name()));
  return absl::OkStatus();
}

absl::Status GreeterService::SayHelloStream(
    netstructer::ServerContext* context,
    netstructer::ServerReaderWriter<HelloReply, HelloRequest>* stream) {
  HelloRequest request;
  HelloReply reply;
  for (;;) {
    absl::StatusOr<bool> more = stream->Read(&request);
    if (!more.ok()) return more.status();  // Cancelled, deadline, lost.
    if (!*more) return absl::OkStatus();   // The client half-closed.
    if (absl::Status s = CheckName(request); !s.ok()) return s;
    reply.set_message(Greeting(request.name()));
    if (absl::Status s = stream->Write(reply); !s.ok()) return s;
  }
}

}  // namespace greeter
