#include "netstructer/tools/describe.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace netstructer::tools {

absl::StatusOr<std::string> DescribeSymbol(DescriptorSource* source,
                                           std::string symbol) {
  if (!symbol.empty() && symbol.front() == '/') symbol.erase(0, 1);
  std::replace(symbol.begin(), symbol.end(), '/', '.');
  if (absl::Status s = source->Load(symbol); !s.ok()) return s;
  const google::protobuf::DescriptorPool& pool = *source->pool();
  if (const auto* d = pool.FindServiceByName(symbol)) {
    return absl::StrCat(symbol, " is a service:\n", d->DebugString());
  }
  if (const auto* d = pool.FindMethodByName(symbol)) {
    return absl::StrCat(
        symbol, " is a method (",
        d->client_streaming() ? "client streaming" : "unary request", ", ",
        d->server_streaming() ? "server streaming" : "unary response",
        "):\n", d->DebugString());
  }
  if (const auto* d = pool.FindMessageTypeByName(symbol)) {
    return absl::StrCat(symbol, " is a message:\n", d->DebugString());
  }
  if (const auto* d = pool.FindEnumTypeByName(symbol)) {
    return absl::StrCat(symbol, " is an enum:\n", d->DebugString());
  }
  if (const auto* d = pool.FindFieldByName(symbol)) {
    return absl::StrCat(symbol, " is a field of ",
                        d->containing_type()->full_name(), ":\n",
                        d->DebugString());
  }
  if (const auto* d = pool.FindEnumValueByName(symbol)) {
    return absl::StrCat(symbol, " is a value of ", d->type()->full_name(),
                        ": ", d->name(), " = ", d->number(), ";\n");
  }
  return absl::NotFoundError(
      absl::StrCat("no symbol ", symbol, " in ", source->origin()));
}

}  // namespace netstructer::tools
