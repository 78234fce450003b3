#include "netstructer/tools/dynamic_call.h"

#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "netstructer/client/client_call.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/proto/terminal_text.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::tools {
namespace {

namespace pb = google::protobuf;

const char* KindName(const pb::MethodDescriptor& method) {
  if (method.client_streaming() && method.server_streaming()) {
    return "bidi-streaming";
  }
  if (method.client_streaming()) return "client-streaming";
  return method.server_streaming() ? "server-streaming" : "unary";
}

// A request (`which`: "the request", "request 2") as its type's bytes.
absl::StatusOr<std::string> RequestBytes(pb::DynamicMessageFactory* factory,
                                         const pb::MethodDescriptor& method,
                                         const std::string& json,
                                         const std::string& which) {
  std::unique_ptr<pb::Message> request(
      factory->GetPrototype(method.input_type())->New());
  if (pb::util::Status s = pb::util::JsonStringToMessage(
          pb::StringPiece(json.data(), json.size()), request.get());
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        which, " is not JSON for ", method.input_type()->full_name(), ": ",
        s.message().ToString()));
  }
  std::string bytes;
  if (!request->SerializeToString(&bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        which, ": cannot serialize the ", method.input_type()->full_name(),
        " (a required field unset?)"));
  }
  return bytes;
}

class Printer {
 public:
  Printer(pb::DynamicMessageFactory* factory, const pb::MethodDescriptor& method,
          const OutputFormat& format, std::ostream& out)
      : factory_(factory), method_(method), format_(format), out_(out) {}

  // One response; DATA_LOSS if it does not parse.
  absl::Status Print(const std::string& bytes) {
    std::unique_ptr<pb::Message> response(
        factory_->GetPrototype(method_.output_type())->New());
    if (!response->ParseFromString(bytes)) {
      return absl::DataLossError(absl::StrCat(
          "a response does not parse as ", method_.output_type()->full_name()));
    }
    std::string text;
    if (format_.text) {
      pb::TextFormat::PrintToString(*response, &text);
      out_ << text << (text.empty() || text.back() == '\n' ? "" : "\n");
      if (!text.empty()) out_ << "\n";  // A blank line between messages.
    } else {
      pb::util::JsonPrintOptions options;
      options.add_whitespace = format_.pretty;
      options.always_print_primitive_fields = format_.emit_defaults;
      options.preserve_proto_field_names = false;
      if (pb::util::Status s =
              pb::util::MessageToJsonString(*response, &text, options);
          !s.ok()) {
        return absl::InternalError(absl::StrCat(
            "cannot print a response as JSON: ", s.message().ToString()));
      }
      out_ << text << (!text.empty() && text.back() == '\n' ? "" : "\n");
    }
    out_.flush();
    ++printed_;
    return absl::OkStatus();
  }
  int printed() const { return printed_; }

 private:
  pb::DynamicMessageFactory* const factory_;
  const pb::MethodDescriptor& method_;
  const OutputFormat& format_;
  std::ostream& out_;
  int printed_ = 0;
};

// A streaming server's responses, each printed as it comes; then the
// call's status. A response that does not parse ends the call.
absl::Status PrintEachResponse(internal::ClientCall* call, Printer* printer) {
  for (;;) {
    absl::StatusOr<std::optional<std::string>> m = call->Read();
    if (!m.ok()) return m.status();
    if (!m->has_value()) return call->Finish();
    if (absl::Status s = printer->Print(**m); !s.ok()) {
      call->CancelWith(s);
      return s;
    }
  }
}

void PrintMetadata(std::ostream& err, const char* what, const Metadata& md) {
  for (const auto& [key, value] : md) {
    err << what << EscapeForTerminal(key) << ": " << EscapeForTerminal(value)
        << "\n";
  }
}

}  // namespace

absl::Status RunDynamicCall(Channel* channel, const pb::MethodDescriptor& method,
                            std::istream* input, bool input_given,
                            CallOptions options, const OutputFormat& format,
                            bool verbose, std::ostream& out, std::ostream& err,
                            const std::function<void()>& stop_input) {
  const std::string path = absl::StrCat("/", method.service()->full_name(), "/",
                                        method.name());  // Outlives the call.
  pb::DynamicMessageFactory factory(method.file()->pool());
  Printer printer(&factory, method, format, out);
  ResponseMetadata response_metadata;
  options.response_metadata = &response_metadata;
  if (verbose) {
    err << "> " << path << " (" << KindName(method) << ")\n";
    PrintMetadata(err, "> ", options.metadata);
  }
  const absl::Time start = absl::Now();
  int sent = 0;
  absl::Status status;
  if (!method.client_streaming()) {
    // One request, all of the input: `{}` when none was given.
    const std::string json =
        input_given ? std::string(std::istreambuf_iterator<char>(*input), {})
                    : std::string("{}");
    absl::StatusOr<std::string> bytes =
        RequestBytes(&factory, method, json, "the request");
    if (!bytes.ok()) return bytes.status();
    std::unique_ptr<internal::ClientCall> call = internal::ClientCall::Start(
        channel, path.c_str(), options, &*bytes, /*half_close=*/true);
    sent = 1;
    if (!method.server_streaming()) {
      absl::StatusOr<std::string> response = call->FinishUnary();
      status = response.status();
      if (response.ok()) status = printer.Print(*response);
    } else {
      status = PrintEachResponse(call.get(), &printer);
    }
  } else {
    std::unique_ptr<internal::ClientCall> call = internal::ClientCall::Start(
        channel, path.c_str(), options, nullptr, /*half_close=*/false);
    // The requests go from a thread of their own, so that a bidi call's
    // responses are printed as they come, whatever the server waits for.
    Mutex mu;
    absl::Status write_error;
    int written = 0;
    JsonDocumentReader requests(input);
    std::thread writer([&] {
      absl::Status s;
      for (int n = 1;; ++n) {
        absl::StatusOr<std::optional<std::string>> doc = requests.Next();
        if (!doc.ok()) {
          s = doc.status();
          break;
        }
        if (!doc->has_value()) break;
        absl::StatusOr<std::string> bytes =
            RequestBytes(&factory, method, **doc, absl::StrCat("request ", n));
        if (!bytes.ok()) {
          s = bytes.status();
          break;
        }
        if (!call->Write(*bytes).ok()) return;  // The call ended: Finish says.
        MutexLock lock(&mu);
        ++written;
      }
      if (!s.ok()) {
        call->CancelWith(s);  // No half-close: the server sees the error.
        MutexLock lock(&mu);
        write_error = DetachedStatus(s);
        return;
      }
      (void)call->WritesDone();
    });
    if (!method.server_streaming()) {
      absl::StatusOr<std::string> response = call->FinishUnary();
      if (stop_input) stop_input();  // The call is over: stop reading.
      writer.join();
      status = response.status();
      if (response.ok()) status = printer.Print(*response);
    } else {
      status = PrintEachResponse(call.get(), &printer);
      if (stop_input) stop_input();  // The call is over: stop reading.
      writer.join();
    }
    MutexLock lock(&mu);
    sent = written;
    // The request that could not be sent says more than the CANCELLED it
    // caused (not more than an answer the server gave first).
    if (!write_error.ok() && !status.ok()) status = DetachedStatus(write_error);
  }
  if (verbose) {
    PrintMetadata(err, "< ", response_metadata.initial);
    PrintMetadata(err, "< (trailer) ", response_metadata.trailing);
    err << "< status: " << (status.ok() ? "OK" : StatusForTerminal(status))
        << "\n"
        << absl::StrFormat("sent %d request(s), received %d response(s) in %.3f ms\n",
                           sent, printer.printed(),
                           absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  return status;
}

}  // namespace netstructer::tools
