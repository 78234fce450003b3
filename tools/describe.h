// `netstructer describe SYMBOL`: what a service, method, message, enum or
// field is, as .proto text (protobuf's DebugString, which is .proto syntax
// with fully qualified type names), after a line naming its kind.
#ifndef NETSTRUCTER_TOOLS_DESCRIBE_H_
#define NETSTRUCTER_TOOLS_DESCRIBE_H_

#include <string>

#include "absl/status/statusor.h"
#include "netstructer/tools/descriptor_source.h"

namespace netstructer::tools {

// `symbol` is a full name ("pkg.Svc", "pkg.Svc.Method" or "pkg.Svc/Method",
// "pkg.Msg", "pkg.Msg.field", "pkg.Enum"). NOT_FOUND when the source does
// not define it.
absl::StatusOr<std::string> DescribeSymbol(DescriptorSource* source,
                                           std::string symbol);

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_DESCRIBE_H_
