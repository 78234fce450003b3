// One call of any kind to a method known only at run time (its descriptor
// from a DescriptorSource): requests from JSON documents, responses printed
// as JSON or protobuf text, one document per message. What `netstructer
// call` runs.
//
// Thread-compatible; a bidi call writes from a thread of its own while this
// one reads.
#ifndef NETSTRUCTER_TOOLS_DYNAMIC_CALL_H_
#define NETSTRUCTER_TOOLS_DYNAMIC_CALL_H_

#include <functional>
#include <istream>
#include <ostream>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "netstructer/client/call_options.h"
#include "netstructer/client/channel.h"
#include "netstructer/tools/json_documents.h"

namespace netstructer::tools {

struct OutputFormat {
  bool text = false;           // protobuf text format instead of JSON
  bool pretty = false;         // JSON over several indented lines
  bool emit_defaults = false;  // JSON: fields at their default values too
};

// Makes the call with the requests read from `input`: for a unary or
// server-streaming method, all of it is the one request (`{}` when no input
// was given at all); for a streaming client, JSON documents one after
// another (JsonDocumentReader), each a request, sent as they are read. Each
// response goes to `out` as soon as it arrives; with `verbose`, the method,
// the metadata both ways, the status and the timing go to `err`. Returns
// the call's status; INVALID_ARGUMENT for a request that does not fit its
// type (the call is then never made, or cancelled). `stop_input` (may be
// null) is called once the call has ended, to wake a writer still waiting
// for `input` (InterruptibleInput::Interrupt).
absl::Status RunDynamicCall(Channel* channel,
                            const google::protobuf::MethodDescriptor& method,
                            std::istream* input, bool input_given,
                            CallOptions options, const OutputFormat& format,
                            bool verbose, std::ostream& out, std::ostream& err,
                            const std::function<void()>& stop_input = nullptr);

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_DYNAMIC_CALL_H_
