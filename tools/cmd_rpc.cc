// `netstructer list` and `netstructer call`: a generic RPC client over the
// server's reflection service (tools/reflection_client.h).
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "netstructer/client/channel.h"
#include "netstructer/proto/terminal_text.h"
#include "netstructer/tools/cli_args.h"
#include "netstructer/tools/reflection_client.h"
#include "netstructer/transport/key_file.h"
#include "tools/commands.h"

namespace netstructer::tools {

const char kListUsage[] =
    "usage: netstructer list --to HOST:PORT (--key-file PATH | --insecure)\n"
    "                        [--timeout DURATION] [SERVICE]\n"
    "Prints every method the server offers (or SERVICE's only), one per\n"
    "line, as SERVICE/METHOD (greeter.Greeter/SayHello), from its reflection\n"
    "service. NOT_FOUND (exit 69) when it offers no SERVICE.\n"
    "  --to HOST:PORT        the server (required)\n"
    "  --key-file PATH       its key file (the first key is used)\n"
    "  --insecure            no key: a server started with --insecure\n"
    "  --timeout DURATION    for each step: connecting, the handshake, the\n"
    "                        call (default 10s; 500ms, 2s, 1m, or seconds)\n";

const char kCallUsage[] =
    "usage: netstructer call --to HOST:PORT (--key-file PATH | --insecure)\n"
    "                        [--timeout DURATION] SERVICE/METHOD JSON\n"
    "Makes one unary call: the request is JSON (proto3 mapping, e.g.\n"
    "'{\"name\": \"world\"}'), the response is printed as JSON on one line.\n"
    "The message types come from the server's reflection service.\n"
    "  --to HOST:PORT        the server (required)\n"
    "  --key-file PATH       its key file (the first key is used)\n"
    "  --insecure            no key: a server started with --insecure\n"
    "  --timeout DURATION    for each step: connecting, the handshake,\n"
    "                        reflection, the call (default 10s; 500ms, 2s,\n"
    "                        1m, or seconds)\n";

namespace {

// The flags both commands share, checked.
struct Target {
  std::string address;
  std::optional<std::string> key_file;  // Unset: insecure.
  absl::Duration timeout = absl::Seconds(10);
};

int Fail(Io io, const absl::Status& status) { return StatusError(io, status); }

// The target, or a usage problem (INVALID_ARGUMENT).
absl::StatusOr<Target> ParseTarget(const CliArgs& args) {
  Target target;
  const std::optional<std::string> to = args.Get("to");
  if (!to.has_value()) return absl::InvalidArgumentError("--to is required");
  target.address = *to;
  if (args.Has("insecure") == args.Has("key-file")) {
    return absl::InvalidArgumentError(
        "give exactly one of --key-file and --insecure");
  }
  if (std::optional<std::string> t = args.Get("timeout"); t.has_value()) {
    absl::StatusOr<absl::Duration> d = ParseCliDuration("timeout", *t);
    if (!d.ok()) return d.status();
    target.timeout = *d;
  }
  target.key_file = args.Get("key-file");
  return target;
}

// Loads the key (a failure, not a usage error, if that goes wrong) and
// connects.
absl::StatusOr<std::shared_ptr<Channel>> Connect(const Target& target) {
  ChannelOptions options;
  options.link.connect_timeout = target.timeout;
  options.link.handshake_timeout = target.timeout;
  if (target.key_file.has_value()) {
    absl::StatusOr<std::vector<transport::FernetKey>> keys =
        transport::LoadKeyFile(*target.key_file);
    if (!keys.ok()) return keys.status();
    options.link.key = keys->front();  // The primary.
  } else {
    options.link.insecure = true;
  }
  return Channel::Create(target.address, options);
}

CallOptions PerCall(const Target& target) {
  CallOptions options;
  options.timeout = target.timeout;
  return options;
}

FlagSpec TargetFlags() {
  FlagSpec spec;
  spec.with_value = {"to", "key-file", "timeout"};
  spec.boolean = {"insecure"};
  return spec;
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
  absl::StatusOr<Target> target = ParseTarget(*parsed);
  if (!target.ok()) return usage(target.status().message());
  absl::StatusOr<std::shared_ptr<Channel>> channel = Connect(*target);
  if (!channel.ok()) return Fail(io, channel.status());
  absl::StatusOr<std::vector<std::string>> methods =
      ListMethods(*channel, PerCall(*target));
  if (!methods.ok()) return Fail(io, methods.status());
  std::vector<std::string> shown;
  for (const std::string& m : *methods) {
    if (parsed->positional().empty() ||
        absl::StartsWith(m, parsed->positional()[0] + "/")) {
      shown.push_back(m);
    }
  }
  if (shown.empty() && !parsed->positional().empty()) {
    return Fail(io, absl::NotFoundError(absl::StrCat(
                        "the server offers no service '",
                        parsed->positional()[0], "'")));
  }
  // Names come from the server: escaped like any peer text.
  for (const std::string& m : shown) io.out << EscapeForTerminal(m) << "\n";
  return kExitOk;
}

int RunCall(const Args& args, Io io) {
  auto usage = [io](absl::string_view problem) {
    return UsageError(io, "call", kCallUsage, std::string(problem));
  };
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, TargetFlags());
  if (!parsed.ok()) return usage(parsed.status().message());
  if (parsed->positional().size() != 2) {
    return usage("give SERVICE/METHOD and the request as JSON");
  }
  absl::StatusOr<MethodName> method = ParseMethodName(parsed->positional()[0]);
  if (!method.ok()) return usage(method.status().message());
  absl::StatusOr<Target> target = ParseTarget(*parsed);
  if (!target.ok()) return usage(target.status().message());
  absl::StatusOr<std::shared_ptr<Channel>> channel = Connect(*target);
  if (!channel.ok()) return Fail(io, channel.status());
  absl::StatusOr<std::string> response = CallWithJson(
      *channel, *method, parsed->positional()[1], PerCall(*target));
  if (!response.ok()) return Fail(io, response.status());
  io.out << *response << "\n";
  return kExitOk;
}

}  // namespace netstructer::tools
