#include "netstructer/examples/greeter/greeter_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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

absl::Status GreeterService::SayHelloRepeatedly(
    netstructer::ServerContext* context, const HelloRequest* request,
    netstructer::ServerWriter<HelloReply>* writer) {
  if (absl::Status s = CheckName(*request); !s.ok()) return s;
  if (request->count() < 0 || request->count() > kMaxRepeat) {
    return absl::InvalidArgumentError(
        absl::StrCat("count is ", request->count(), ", not 0 to ", kMaxRepeat));
  }
  HelloReply reply;
  reply.set_message(Greeting(request->name()));
  for (int i = 0; i < std::max(1, request->count()); ++i) {
    if (absl::Status s = writer->Write(reply); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status GreeterService::SayHelloToAll(
    netstructer::ServerContext* context,
    netstructer::ServerReader<HelloRequest>* reader, HelloReply* reply) {
  std::vector<std::string> names;
  HelloRequest request;
  for (;;) {
    absl::StatusOr<bool> more = reader->Read(&request);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (absl::Status s = CheckName(request); !s.ok()) return s;
    names.push_back(request.name());
  }
  if (names.empty()) return absl::InvalidArgumentError("no name was sent");
  std::string all = names.back();
  if (names.size() > 1) {
    names.pop_back();
    all = absl::StrCat(absl::StrJoin(names, ", "), " and ", all);
  }
  reply->set_message(Greeting(all));
  return absl::OkStatus();
}

}  // namespace greeter
