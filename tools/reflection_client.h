// The client half of the CLI's `list` and `call`: asks a server's built-in
// reflection service (service/builtin/reflection.proto) what it offers and
// makes unary calls on messages built at run time from JSON.
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

// Calls a unary method with `json` as the request and returns the response
// as JSON (one line, proto3 JSON mapping). Errors: the call's status;
// NOT_FOUND for an unknown service or method; INVALID_ARGUMENT for JSON
// that does not fit the request type or a streaming method; UNIMPLEMENTED
// when the server offers no reflection.
absl::StatusOr<std::string> CallWithJson(std::shared_ptr<Channel> channel,
                                         const MethodName& method,
                                         absl::string_view json,
                                         const CallOptions& options);

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_REFLECTION_CLIENT_H_
