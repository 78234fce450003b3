// What the built-in services know about the server they run in: a
// function listing its services. The Server passes
// `[this] { return services(); }`; tests pass a fixed list.
#ifndef NETSTRUCTER_SERVICE_BUILTIN_SERVICE_LIST_H_
#define NETSTRUCTER_SERVICE_BUILTIN_SERVICE_LIST_H_

#include <functional>
#include <vector>

#include "netstructer/service/rpc_service.h"

namespace netstructer::builtin {

// The services the server offers, in registration order (the built-in ones
// included). Called on handler threads: must be thread-safe and must not
// block on a call's completion.
using ServiceList = std::function<std::vector<Service*>()>;

}  // namespace netstructer::builtin

#endif  // NETSTRUCTER_SERVICE_BUILTIN_SERVICE_LIST_H_
