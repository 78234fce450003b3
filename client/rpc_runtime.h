// The one runtime header generated code (NAME.ns.h) includes: both sides of
// the RPC API of docs/RPC_API.md, version 2.
#ifndef NETSTRUCTER_CLIENT_RPC_RUNTIME_H_
#define NETSTRUCTER_CLIENT_RPC_RUNTIME_H_

#define NETSTRUCTER_RPC_RUNTIME_VERSION 3

#include "netstructer/client/call_options.h"
#include "netstructer/client/channel.h"
#include "netstructer/client/client_context.h"
#include "netstructer/client/rpc_client.h"
#include "netstructer/service/rpc_service.h"

#endif  // NETSTRUCTER_CLIENT_RPC_RUNTIME_H_
