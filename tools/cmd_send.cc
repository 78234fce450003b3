// `netstructer send --to HOST:PORT (--key-file F | --insecure) LITERAL...`
#include <iostream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "netstructer/proto/python_literal.h"
#include "netstructer/proto/terminal_text.h"
#include "netstructer/tools/cli_args.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/key_file.h"
#include "tools/commands.h"

namespace netstructer::tools {
namespace {

constexpr char kSendUsage[] =
    "usage: netstructer send --to HOST:PORT (--key-file PATH | --insecure)\n"
    "                        [--timeout SECONDS] LITERAL...\n"
    "Sends each Python literal as its own buffer, in order, and exits 0 once\n"
    "the server has confirmed it received them all.\n";

int Usage(Io io, absl::string_view problem) {
  return UsageError(io, "send", kSendUsage, std::string(problem));
}

}  // namespace

int RunSend(const Args& args, Io io) {
  FlagSpec spec;
  spec.with_value = {"to", "key-file", "timeout"};
  spec.boolean = {"insecure"};
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, spec);
  if (!parsed.ok()) return Usage(io, parsed.status().message());
  const std::optional<std::string> to = parsed->Get("to");
  if (!to.has_value()) return Usage(io, "--to is required");
  if (parsed->Has("insecure") == parsed->Has("key-file")) {
    return Usage(io, "give exactly one of --key-file and --insecure");
  }
  if (parsed->positional().empty()) return Usage(io, "nothing to send");
  absl::Duration timeout = absl::Seconds(10);
  if (std::optional<std::string> t = parsed->Get("timeout"); t.has_value()) {
    double seconds = 0;
    if (!absl::SimpleAtod(*t, &seconds) || seconds <= 0) {
      return Usage(io, "--timeout takes seconds > 0");
    }
    timeout = absl::Seconds(seconds);
  }
  // Every literal is checked before anything is sent.
  std::vector<Value> values;
  for (const std::string& literal : parsed->positional()) {
    absl::StatusOr<Value> value = ParseLiteral(literal);
    if (!value.ok()) {
      io.err << "netstructer send: " << literal << ": " << StatusForTerminal(value.status()) << "\n";
      return kExitFailure;
    }
    values.push_back(*std::move(value));
  }
  LinkOptions options;
  options.connect_timeout = timeout;
  options.handshake_timeout = timeout;
  if (parsed->Has("insecure")) {
    options.insecure = true;
  } else {
    absl::StatusOr<std::vector<transport::FernetKey>> keys =
        transport::LoadKeyFile(*parsed->Get("key-file"));
    if (!keys.ok()) {
      io.err << "netstructer send: " << StatusForTerminal(keys.status()) << "\n";
      return kExitFailure;
    }
    options.key = keys->front();
  }
  absl::StatusOr<std::shared_ptr<Bridge>> bridge = Bridge::Link(*to, options);
  if (!bridge.ok()) {
    io.err << "netstructer send: " << StatusForTerminal(bridge.status()) << "\n";
    return kExitFailure;
  }
  for (const Value& value : values) {
    if (absl::Status s = (*bridge)->SendBuffer(value); !s.ok()) {
      io.err << "netstructer send: " << StatusForTerminal(s) << "\n";
      return kExitFailure;
    }
  }
  if (absl::Status s = (*bridge)->Close(timeout); !s.ok()) {
    io.err << "netstructer send: the server did not confirm receipt: "
           << StatusForTerminal(s) << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace netstructer::tools
