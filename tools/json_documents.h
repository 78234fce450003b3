// A stream of JSON documents, as `netstructer call -d` reads them for a
// client-streaming or bidi call (grpcurl's input format): objects one after
// another, separated by whitespace or nothing ('{"n":1}{"n":2}' or one per
// line). Only the boundaries are found here; each document is parsed as a
// message by protobuf's JSON parser, which reports what is wrong inside.
//
// Thread-compatible value type.
#ifndef NETSTRUCTER_TOOLS_JSON_DOCUMENTS_H_
#define NETSTRUCTER_TOOLS_JSON_DOCUMENTS_H_

#include <istream>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace netstructer::tools {

class JsonDocumentReader {
 public:
  // Reads from `in`, which must outlive the reader.
  explicit JsonDocumentReader(std::istream* in) : in_(in) {}

  // The next document; nullopt at the end of the input (only whitespace
  // left). INVALID_ARGUMENT naming the document's number for text between
  // documents that is not an object ('[1]', 'x'), or an object cut short
  // by the end of the input. Reading stops at the first error.
  absl::StatusOr<std::optional<std::string>> Next();

 private:
  std::istream* const in_;
  int documents_ = 0;
};

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_JSON_DOCUMENTS_H_
