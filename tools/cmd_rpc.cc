// `netstructer list`, `describe` and `call`: a generic RPC client, grpcurl's
// counterpart. Types come from the server's reflection service, or from
// --proto / --protoset (tools/descriptor_source.h).
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "netstructer/client/channel.h"
#include "netstructer/proto/terminal_text.h"
#include "netstructer/rpc/metadata.h"
#include "netstructer/tools/cli_args.h"
#include "netstructer/tools/describe.h"
#include "netstructer/tools/descriptor_source.h"
#include "netstructer/tools/dynamic_call.h"
#include "netstructer/tools/interruptible_input.h"
#include "netstructer/tools/reflection_client.h"
#include "netstructer/transport/key_file.h"
#include "tools/commands.h"

namespace netstructer::tools {

#define NS_TARGET_USAGE                                                       \
  "  --to HOST:PORT          the server (required)\n"                         \
  "  --key-file PATH         its key file (the first key is used)\n"          \
  "  --insecure              no key: a server started with --insecure\n"      \
  "  --connect-timeout DURATION  connecting and the handshake (default:\n"    \
  "                          --timeout)\n"                                    \
  "  --timeout DURATION      each step: connecting, the handshake,\n"        \
  "                          reflection, the call (default 10s; a\n"         \
  "                          streaming call has none unless given)\n"        \
  "  --max-time DURATION     the whole command (default: none)\n"             \
  "  --proto FILE            types from a .proto file (repeatable) instead\n" \
  "                          of the server's reflection\n"                    \
  "  --import-path DIR       where --proto files and their imports are\n"     \
  "                          (repeatable; default .)\n"                       \
  "  --protoset FILE         types from a FileDescriptorSet (repeatable;\n"   \
  "                          protoc --include_imports --descriptor_set_out)\n" \
  "DURATION: 500ms, 2s, 1m, or a number of seconds.\n"

const char kListUsage[] =
    "usage: netstructer list --to HOST:PORT (--key-file PATH | --insecure)\n"
    "                        [FLAGS] [SERVICE]\n"
    "Prints every method the server offers (or SERVICE's only), one per\n"
    "line, as SERVICE/METHOD (greeter.Greeter/SayHello). NOT_FOUND (exit 69)\n"
    "when it offers no SERVICE.\n" NS_TARGET_USAGE;

const char kDescribeUsage[] =
    "usage: netstructer describe --to HOST:PORT (--key-file PATH | --insecure)\n"
    "                            [FLAGS] SYMBOL\n"
    "Prints what SYMBOL is (a service, a method as SERVICE/METHOD or\n"
    "SERVICE.METHOD with its streaming, a message, an enum, a field) as\n"
    ".proto text. With --proto or --protoset, --to is not needed.\n"
    NS_TARGET_USAGE;

const char kCallUsage[] =
    "usage: netstructer call --to HOST:PORT (--key-file PATH | --insecure)\n"
    "                        [FLAGS] SERVICE/METHOD [JSON]\n"
    "Makes one call of any kind. Requests are JSON (the proto3 mapping, e.g.\n"
    "'{\"name\": \"world\"}'), given as JSON or -d; a streaming client sends\n"
    "each of several documents ('{...} {...}', one per line or not); a\n"
    "unary or server-streaming call without one sends {}. Each response is\n"
    "printed as it arrives, one document per message (indented on a\n"
    "terminal, one line otherwise).\n"
    "  -d, --data TEXT         the requests; '@' reads them from stdin,\n"
    "                          '@FILE' from FILE\n"
    "  -H, --header 'KEY: VALUE'  request metadata (repeatable)\n"
    "  -v, --verbose           the method, metadata both ways, the status\n"
    "                          and the timing, on stderr\n"
    "  --format json|text      the responses as JSON (default) or protobuf\n"
    "                          text format\n"
    "  --emit-defaults         JSON: print fields at their default values\n"
    NS_TARGET_USAGE;

#undef NS_TARGET_USAGE

namespace {

// The flags every command here shares, checked.
struct Target {
  std::optional<std::string> address;
  std::optional<std::string> key_file;  // Unset: insecure.
  absl::Duration timeout = absl::Seconds(10);
  bool timeout_given = false;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Time deadline = absl::InfiniteFuture();  // --max-time
  std::vector<std::string> protos;
  std::vector<std::string> import_paths;
  std::vector<std::string> protosets;

  bool local_types() const { return !protos.empty() || !protosets.empty(); }
  // Each call: the step's timeout, within the whole command's deadline.
  CallOptions PerCall() const {
    CallOptions options;
    options.timeout = timeout;
    options.deadline = deadline;
    return options;
  }
};

int Fail(Io io, const absl::Status& status) { return StatusError(io, status); }

// The target, or a usage problem (INVALID_ARGUMENT). `need_address`: false
// when local types make the server unnecessary (describe).
absl::StatusOr<Target> ParseTarget(const CliArgs& args, bool need_address) {
  Target target;
  auto duration = [&](const char* flag, absl::Duration* out) -> absl::Status {
    if (std::optional<std::string> t = args.Get(flag); t.has_value()) {
      absl::StatusOr<absl::Duration> d = ParseCliDuration(flag, *t);
      if (!d.ok()) return d.status();
      *out = *d;
    }
    return absl::OkStatus();
  };
  if (absl::Status s = duration("timeout", &target.timeout); !s.ok()) return s;
  target.timeout_given = args.Has("timeout");
  target.connect_timeout = target.timeout;
  if (absl::Status s = duration("connect-timeout", &target.connect_timeout);
      !s.ok()) {
    return s;
  }
  absl::Duration max_time = absl::InfiniteDuration();
  if (absl::Status s = duration("max-time", &max_time); !s.ok()) return s;
  if (max_time != absl::InfiniteDuration()) target.deadline = absl::Now() + max_time;
  target.protos = args.GetAll("proto");
  target.import_paths = args.GetAll("import-path");
  target.protosets = args.GetAll("protoset");
  if (!target.protos.empty() && !target.protosets.empty()) {
    return absl::InvalidArgumentError("give --proto or --protoset, not both");
  }
  if (!target.import_paths.empty() && target.protos.empty()) {
    return absl::InvalidArgumentError("--import-path goes with --proto");
  }
  target.address = args.Get("to");
  if (!target.address.has_value()) {
    if (need_address || !target.local_types()) {
      return absl::InvalidArgumentError("--to is required");
    }
    return target;
  }
  if (args.Has("insecure") == args.Has("key-file")) {
    return absl::InvalidArgumentError(
        "give exactly one of --key-file and --insecure");
  }
  target.key_file = args.Get("key-file");
  return target;
}

// Loads the key (a failure, not a usage error, if that goes wrong) and
// connects, within --connect-timeout and --max-time.
absl::StatusOr<std::shared_ptr<Channel>> Connect(const Target& target) {
  ChannelOptions options;
  absl::Duration limit = target.connect_timeout;
  if (target.deadline != absl::InfiniteFuture()) {
    limit = std::min(limit, std::max(target.deadline - absl::Now(),
                                     absl::Milliseconds(1)));
  }
  options.link.connect_timeout = limit;
  options.link.handshake_timeout = limit;
  options.link.deadline = target.deadline;  // Both together, within --max-time.
  if (target.key_file.has_value()) {
    absl::StatusOr<std::vector<transport::FernetKey>> keys =
        transport::LoadKeyFile(*target.key_file);
    if (!keys.ok()) return keys.status();
    options.link.key = keys->front();  // The primary.
  } else {
    options.link.insecure = true;
  }
  absl::StatusOr<std::shared_ptr<Channel>> channel =
      Channel::Create(*target.address, options);
  if (!channel.ok() && absl::Now() >= target.deadline) {
    return absl::DeadlineExceededError(absl::StrCat(
        "--max-time passed while connecting: ", channel.status().message()));
  }
  return channel;
}

// Where the types come from: the files given, or the server's reflection.
absl::StatusOr<std::unique_ptr<DescriptorSource>> Types(
    const Target& target, const std::shared_ptr<Channel>& channel) {
  if (!target.protos.empty()) {
    return DescriptorSource::FromProtoFiles(target.protos, target.import_paths);
  }
  if (!target.protosets.empty()) {
    return DescriptorSource::FromProtosets(target.protosets);
  }
  return DescriptorSource::FromReflection(channel, target.PerCall());
}

// For list and describe: the local files, or the server's reflection over
// a connection made for it (the source keeps the channel). Without local
// files ParseTarget has required --to.
absl::StatusOr<std::unique_ptr<DescriptorSource>> TypesToInspect(
    const Target& target) {
  std::shared_ptr<Channel> channel;
  if (!target.local_types()) {
    absl::StatusOr<std::shared_ptr<Channel>> connected = Connect(target);
    if (!connected.ok()) return connected.status();
    channel = *std::move(connected);
  }
  return Types(target, channel);
}

FlagSpec TargetFlags() {
  FlagSpec spec;
  spec.with_value = {"to",       "key-file",    "timeout", "connect-timeout",
                     "max-time", "proto",       "import-path", "protoset"};
  spec.boolean = {"insecure"};
  return spec;
}

// "key: value" (spaces around the value trimmed; the key as given, which
// rpc/metadata.h checks).
absl::StatusOr<std::pair<std::string, std::string>> ParseHeader(
    const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("-H '", text, "' is not 'KEY: VALUE'"));
  }
  return std::make_pair(
      std::string(absl::StripAsciiWhitespace(text.substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(text.substr(colon + 1))));
}

}  // namespace

int RunList(const Args& args, Io io) {
  auto usage = [io](absl::string_view problem) {
    return UsageError(io, "list", kListUsage, std::string(problem));
  };
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, TargetFlags());
  if (!parsed.ok()) return usage(parsed.status().message());
  if (parsed->positional().size() > 1) {
    return usage(absl::StrCat("unexpected argument '",
                              parsed->positional()[1], "'"));
  }
  absl::StatusOr<Target> target = ParseTarget(*parsed, /*need_address=*/false);
  if (!target.ok()) return usage(target.status().message());
  absl::StatusOr<std::unique_ptr<DescriptorSource>> types =
      TypesToInspect(*target);
  if (!types.ok()) return Fail(io, types.status());
  absl::StatusOr<std::vector<std::string>> methods = (*types)->ListMethods();
  if (!methods.ok()) return Fail(io, methods.status());
  std::vector<std::string> shown;
  for (const std::string& m : *methods) {
    if (parsed->positional().empty() ||
        absl::StartsWith(m, parsed->positional()[0] + "/")) {
      shown.push_back(m);
    }
  }
  if (shown.empty() && !parsed->positional().empty()) {
    return Fail(io, absl::NotFoundError(
                        target->local_types()
                            ? absl::StrCat("no service '", parsed->positional()[0],
                                           "' in ", (*types)->origin())
                            : absl::StrCat("the server offers no service '",
                                           parsed->positional()[0], "'")));
  }
  // Names may come from the server: escaped like any peer text.
  for (const std::string& m : shown) io.out << EscapeForTerminal(m) << "\n";
  return kExitOk;
}

int RunDescribe(const Args& args, Io io) {
  auto usage = [io](absl::string_view problem) {
    return UsageError(io, "describe", kDescribeUsage, std::string(problem));
  };
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, TargetFlags());
  if (!parsed.ok()) return usage(parsed.status().message());
  if (parsed->positional().size() != 1) return usage("give one SYMBOL");
  absl::StatusOr<Target> target = ParseTarget(*parsed, /*need_address=*/false);
  if (!target.ok()) return usage(target.status().message());
  absl::StatusOr<std::unique_ptr<DescriptorSource>> types =
      TypesToInspect(*target);
  if (!types.ok()) return Fail(io, types.status());
  absl::StatusOr<std::string> text =
      DescribeSymbol(types->get(), parsed->positional()[0]);
  if (!text.ok()) return Fail(io, text.status());
  io.out << *text;
  return kExitOk;
}

int RunCall(const Args& args, Io io) {
  auto usage = [io](absl::string_view problem) {
    return UsageError(io, "call", kCallUsage, std::string(problem));
  };
  FlagSpec spec = TargetFlags();
  spec.with_value.insert({"data", "header", "format"});
  spec.boolean.insert({"verbose", "emit-defaults"});
  spec.short_names = {{"-d", "data"}, {"-H", "header"}, {"-v", "verbose"}};
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, spec);
  if (!parsed.ok()) return usage(parsed.status().message());
  const std::vector<std::string>& positional = parsed->positional();
  if (positional.empty() || positional.size() > 2) {
    return usage("give SERVICE/METHOD, and the request as JSON or -d");
  }
  if (positional.size() == 2 && parsed->Has("data")) {
    return usage("give the request as JSON or -d, not both");
  }
  absl::StatusOr<MethodName> name = ParseMethodName(positional[0]);
  if (!name.ok()) return usage(name.status().message());
  absl::StatusOr<Target> target = ParseTarget(*parsed, /*need_address=*/true);
  if (!target.ok()) return usage(target.status().message());
  OutputFormat format;
  const std::string format_name = parsed->Get("format").value_or("json");
  if (format_name != "json" && format_name != "text") {
    return usage("--format takes json or text");
  }
  format.text = format_name == "text";
  format.emit_defaults = parsed->Has("emit-defaults");
  format.pretty = isatty(STDOUT_FILENO) == 1;
  CallOptions options = target->PerCall();
  for (const std::string& h : parsed->GetAll("header")) {
    absl::StatusOr<std::pair<std::string, std::string>> header = ParseHeader(h);
    if (!header.ok()) return usage(header.status().message());
    options.metadata.push_back(*std::move(header));
  }
  if (absl::Status s = rpc::ValidateMetadata(options.metadata); !s.ok()) {
    return usage(absl::StrCat("-H: ", s.message()));
  }
  // The requests' input: inline text, stdin, or a file.
  std::istringstream inline_text;
  std::ifstream file;
  InterruptibleInput stdin_buffer(STDIN_FILENO);
  std::istream stdin_stream(&stdin_buffer);
  std::istream* input = &inline_text;
  if (positional.size() == 2) {
    inline_text.str(positional[1]);
  } else if (std::optional<std::string> data = parsed->Get("data");
             data.has_value()) {
    if (*data == "@") {
      input = &stdin_stream;
    } else if (absl::StartsWith(*data, "@")) {
      file.open(data->substr(1), std::ios::binary);
      if (!file) {
        return Fail(io, absl::NotFoundError(
                            absl::StrCat("-d ", *data, ": cannot open ",
                                         data->substr(1))));
      }
      input = &file;
    } else {
      inline_text.str(*data);
    }
  }
  absl::StatusOr<std::shared_ptr<Channel>> channel = Connect(*target);
  if (!channel.ok()) return Fail(io, channel.status());
  absl::StatusOr<std::unique_ptr<DescriptorSource>> types = Types(*target, *channel);
  if (!types.ok()) return Fail(io, types.status());
  if (absl::Status s = (*types)->Load(name->service); !s.ok()) {
    if (s.code() == absl::StatusCode::kNotFound) {
      return Fail(io, absl::NotFoundError(
                          target->local_types()
                              ? absl::StrCat("no service ", name->service,
                                             " in ", (*types)->origin())
                              : absl::StrCat("the server knows no service ",
                                             name->service)));
    }
    return Fail(io, s);
  }
  const google::protobuf::ServiceDescriptor* service =
      (*types)->pool()->FindServiceByName(name->service);
  if (service == nullptr) {
    return Fail(io, absl::NotFoundError(absl::StrCat(
                        name->service, " is not a service ",
                        target->local_types()
                            ? absl::StrCat("in ", (*types)->origin())
                            : std::string("on this server"))));
  }
  const google::protobuf::MethodDescriptor* method =
      service->FindMethodByName(name->method);
  if (method == nullptr) {
    std::vector<std::string> known;
    for (int i = 0; i < service->method_count(); ++i) {
      known.push_back(service->method(i)->name());
    }
    return Fail(io, absl::NotFoundError(absl::StrCat(
                        "service ", name->service, " has no method ",
                        name->method, " (it has: ", absl::StrJoin(known, ", "),
                        ")")));
  }
  const bool input_given = positional.size() == 2 || parsed->Has("data");
  if ((method->client_streaming() || method->server_streaming()) &&
      !target->timeout_given) {
    options.timeout = absl::InfiniteDuration();  // A stream may last; --max-time bounds it.
  }
  absl::Status status = RunDynamicCall(
      channel->get(), *method, input, input_given, options, format,
      parsed->Has("verbose"), io.out, io.err,
      [&stdin_buffer] { stdin_buffer.Interrupt(); });
  if (!status.ok()) return Fail(io, status);
  return kExitOk;
}

}  // namespace netstructer::tools
