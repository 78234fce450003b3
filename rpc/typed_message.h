// A call's protobuf messages to and from bytes, for the generated stubs and
// service bases (client/rpc_client.h, service/rpc_service.h).
//
// Never protobuf's checking serializers: AppendToString on a proto2 message
// with a required field unset aborts the process in a build with checks
// (`CHECK failed: IsInitialized()`), and ParseFromString says only "false".
// Here a missing required field is an error status that names it: the
// caller chooses the code (INVALID_ARGUMENT for what a client sends or a
// server receives, INTERNAL for what a server answers or a client
// receives), and the process lives.
#ifndef NETSTRUCTER_RPC_TYPED_MESSAGE_H_
#define NETSTRUCTER_RPC_TYPED_MESSAGE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"

namespace netstructer::rpc {

// What `message` lacks, as an error with `code`: "<what> (<type>) is missing
// required fields: a, b.c". OK when it is complete.
inline absl::Status CheckInitialized(const google::protobuf::MessageLite& message,
                                     absl::StatusCode code,
                                     absl::string_view what) {
  if (message.IsInitialized()) return absl::OkStatus();
  return absl::Status(
      code, absl::StrCat(what, " (", message.GetTypeName(),
                         ") is missing required fields: ",
                         message.InitializationErrorString()));
}

// Appends `message` to `*out`; `code` when it is incomplete (nothing is
// appended then).
inline absl::Status AppendMessage(const google::protobuf::MessageLite& message,
                                  absl::StatusCode code, absl::string_view what,
                                  std::string* out) {
  if (absl::Status s = CheckInitialized(message, code, what); !s.ok()) {
    return s;
  }
  if (!message.AppendPartialToString(out)) {
    return absl::Status(code, absl::StrCat("cannot serialize ", what, " (",
                                           message.GetTypeName(), ")"));
  }
  return absl::OkStatus();
}

// Parses `bytes` into `*message`; `code` when they do not parse or leave a
// required field unset.
inline absl::Status ParseMessage(absl::string_view bytes,
                                 google::protobuf::MessageLite* message,
                                 absl::StatusCode code, absl::string_view what) {
  if (!message->ParsePartialFromArray(bytes.data(),
                                      static_cast<int>(bytes.size()))) {
    return absl::Status(code, absl::StrCat(what, " does not parse as ",
                                           message->GetTypeName()));
  }
  return CheckInitialized(*message, code, what);
}

}  // namespace netstructer::rpc

#endif  // NETSTRUCTER_RPC_TYPED_MESSAGE_H_
