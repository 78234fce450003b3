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

const char kSendUsage[] =
    "usage: netstructer send --to HOST:PORT (--key-file PATH | --insecure)\n"
    "                        [--timeout DURATION] LITERAL...\n"
    "Sends each Python literal as its own buffer, in order, and exits 0 once\n"
    "the server has confirmed it received them all.\n"
    "  --to HOST:PORT        the server (required)\n"
    "  --key-file PATH       its key file (the first key is used)\n"
    "  --insecure            no key: a server started with --insecure\n"
    "  --timeout DURATION    for connecting, the handshake and the server's\n"
    "                        confirmation (default 10s; 500ms, 2s, 1m, or\n"
    "                        seconds)\n";

namespace {

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
    absl::StatusOr<absl::Duration> d = ParseCliDuration("timeout", *t);
    if (!d.ok()) return Usage(io, d.status().message());
    timeout = *d;
  }
  // Every literal is checked before anything is sent.
  std::vector<Value> values;
  for (const std::string& literal : parsed->positional()) {
    absl::StatusOr<Value> value = ParseLiteral(literal);
    if (!value.ok()) {
      return StatusError(io, absl::Status(value.status().code(),
                                          absl::StrCat(literal, ": ",
                                                       value.status().message())));
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
    if (!keys.ok()) return StatusError(io, keys.status());
    options.key = keys->front();
  }
  absl::StatusOr<std::shared_ptr<Bridge>> bridge = Bridge::Link(*to, options);
  if (!bridge.ok()) return StatusError(io, bridge.status());
  for (const Value& value : values) {
    if (absl::Status s = (*bridge)->SendBuffer(value); !s.ok()) {
      return StatusError(io, s);
    }
  }
  if (absl::Status s = (*bridge)->Close(timeout); !s.ok()) {
    return StatusError(
        io, absl::Status(s.code(),
                         absl::StrCat("the server did not confirm receipt: ",
                                      s.message())));
  }
  return kExitOk;
}

}  // namespace netstructer::tools
