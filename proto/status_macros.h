// Two tiny macros for absl::Status plumbing (Abseil 20220623 ships none).
#ifndef NETSTRUCTER_PROTO_STATUS_MACROS_H_
#define NETSTRUCTER_PROTO_STATUS_MACROS_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace netstructer {

// A copy of `status` that shares nothing with it (code, message and
// payloads, each payload flattened into a fresh Cord). absl::Status copies
// share a reference-counted representation whose count is partly managed
// inside Debian's Abseil, which is not built for TSan: a status that crosses
// threads (stored under a lock and copied out, captured by a task for
// another thread) is detached so TSan sees no false race.
inline absl::Status DetachedStatus(const absl::Status& status) {
  absl::Status copy(status.code(), status.message());
  status.ForEachPayload([&copy](absl::string_view type_url,
                                const absl::Cord& payload) {
    copy.SetPayload(type_url, absl::Cord(std::string(payload)));
  });
  return copy;
}

}  // namespace netstructer

// Evaluates `expr` (an absl::Status); returns it from the caller if not OK.
#define NS_RETURN_IF_ERROR(expr)                    \
  do {                                              \
    ::absl::Status ns_status_ = (expr);             \
    if (!ns_status_.ok()) return ns_status_;        \
  } while (0)

#define NS_STATUS_MACROS_CONCAT_INNER_(x, y) x##y
#define NS_STATUS_MACROS_CONCAT_(x, y) NS_STATUS_MACROS_CONCAT_INNER_(x, y)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the caller, otherwise move-assigns the value to `lhs` (which may declare a
// variable: `NS_ASSIGN_OR_RETURN(auto x, F());`).
#define NS_ASSIGN_OR_RETURN(lhs, rexpr)                                      \
  NS_ASSIGN_OR_RETURN_IMPL_(NS_STATUS_MACROS_CONCAT_(ns_statusor_, __LINE__), \
                            lhs, rexpr)

#define NS_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // NETSTRUCTER_PROTO_STATUS_MACROS_H_
