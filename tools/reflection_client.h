// The client half of the CLI's `list`: asks a server's built-in reflection
// service (service/builtin/reflection.proto) what it offers; and the
// method names `call` and `describe` take.
//
// Every function takes a connected Channel and the options of each call it
// makes (timeouts). Thread-compatible (no state of its own).
#ifndef NETSTRUCTER_TOOLS_REFLECTION_CLIENT_H_
#define NETSTRUCTER_TOOLS_REFLECTION_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/client/call_options.h"
#include "netstructer/client/channel.h"

namespace netstructer::tools {

// "pkg.Service/Method" split at the last '/' (a leading '/' is allowed).
struct MethodName {
  std::string service;  // "pkg.Service"
  std::string method;   // "Method"
  // "/pkg.Service/Method", the call path.
  std::string Path() const { return "/" + service + "/" + method; }
};
// INVALID_ARGUMENT unless both halves are non-empty.
absl::StatusOr<MethodName> ParseMethodName(absl::string_view text);

// Every method the server offers as "pkg.Service/Method": services in the
// server's order, each one's methods sorted by name.
absl::StatusOr<std::vector<std::string>> ListMethods(
    std::shared_ptr<Channel> channel, const CallOptions& options);

// `status` of a reflection call, reworded when the server offers no
// reflection at all (UNIMPLEMENTED).
absl::Status ExplainReflectionError(const absl::Status& status);

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_REFLECTION_CLIENT_H_
