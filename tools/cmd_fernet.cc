// `netstructer keygen` and `netstructer fernet encrypt|decrypt`.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "netstructer/tools/cli_args.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/key_file.h"
#include "tools/commands.h"

namespace netstructer::tools {
namespace {

using transport::FernetKey;

}  // namespace

const char kFernetUsage[] =
    "usage: netstructer fernet encrypt (--key KEY | --key-file PATH)\n"
    "                                  [--now UNIX_SECONDS] [--iv HEX32]\n"
    "       netstructer fernet decrypt (--key KEY | --key-file PATH)\n"
    "                                  [--ttl DURATION] [--now UNIX_SECONDS]\n"
    "encrypt reads the plaintext from stdin and prints the base64url token;\n"
    "decrypt reads a token from stdin and writes the plaintext to stdout.\n"
    "A key file holds one key per line, primary first (chmod 600).\n"
    "  --key KEY             a key, base64url (as keygen prints it)\n"
    "  --key-file PATH       a key file (decrypt tries every key)\n"
    "  --now UNIX_SECONDS    the clock (default: now)\n"
    "  --ttl DURATION        decrypt: refuse tokens older than this\n"
    "                        (default: no limit; 500ms, 2s, 1m, or seconds)\n"
    "  --iv HEX32            encrypt: the IV, for deterministic tests only\n"
    "Any token that does not open is 'DATA_LOSS: invalid token' (exit 79).\n";

const char kKeygenUsage[] =
    "usage: netstructer keygen [--out FILE]\n"
    "Prints a new Fernet key, or writes it to a new FILE readable by its\n"
    "owner only (mode 600); an existing FILE is never overwritten.\n";

namespace {

int Usage(Io io, absl::string_view problem) {
  return UsageError(io, "fernet", kFernetUsage, std::string(problem));
}

std::string ReadAll(std::istream& in) {
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

// The keys from --key or --key-file (exactly one of them). Usage problems
// return a message in `usage`; other failures (an unreadable key file) an
// error status.
absl::StatusOr<std::vector<FernetKey>> KeysFromArgs(const CliArgs& args,
                                                    std::string* usage) {
  const std::optional<std::string> key = args.Get("key");
  const std::optional<std::string> key_file = args.Get("key-file");
  if (key.has_value() == key_file.has_value()) {
    *usage = "give exactly one of --key and --key-file";
    return absl::InvalidArgumentError(*usage);
  }
  if (key.has_value()) {
    absl::StatusOr<FernetKey> parsed = FernetKey::Parse(*key);
    if (!parsed.ok()) {
      *usage = absl::StrCat("--key: ", parsed.status().message());
      return parsed.status();
    }
    return std::vector<FernetKey>{*parsed};
  }
  return transport::LoadKeyFile(*key_file);
}

std::optional<int64_t> ParseInt(const std::optional<std::string>& text) {
  int64_t v = 0;
  if (!text.has_value() || !absl::SimpleAtoi(*text, &v)) return std::nullopt;
  return v;
}

int Encrypt(const CliArgs& args, Io io) {
  std::string usage;
  absl::StatusOr<std::vector<FernetKey>> keys = KeysFromArgs(args, &usage);
  if (!usage.empty()) return Usage(io, usage);
  if (!keys.ok()) return StatusError(io, keys.status());
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (args.Has("now")) {
    std::optional<int64_t> v = ParseInt(args.Get("now"));
    if (!v.has_value() || *v < 0) return Usage(io, "--now takes UNIX seconds");
    now = *v;
  }
  std::optional<std::array<uint8_t, transport::kFernetIvBytes>> iv;
  if (std::optional<std::string> hex = args.Get("iv"); hex.has_value()) {
    if (hex->size() != 32 ||
        hex->find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      return Usage(io, "--iv takes exactly 32 hex digits");
    }
    const std::string bytes = absl::HexStringToBytes(*hex);
    iv.emplace();
    std::copy(bytes.begin(), bytes.end(), iv->begin());
  }
  transport::Fernet fernet(keys->front());
  std::string token;
  absl::Status s = fernet.SealTo(ReadAll(io.in), now, &token,
                                 iv.has_value() ? &*iv : nullptr);
  if (!s.ok()) return StatusError(io, s);
  io.out << transport::TokenToBase64(token) << "\n";
  return kExitOk;
}

int Decrypt(const CliArgs& args, Io io) {
  if (args.Has("iv")) return Usage(io, "--iv is for encrypt only");
  std::string usage;
  absl::StatusOr<std::vector<FernetKey>> keys = KeysFromArgs(args, &usage);
  if (!usage.empty()) return Usage(io, usage);
  if (!keys.ok()) return StatusError(io, keys.status());
  transport::FernetOpenOptions options;
  options.now_unix_seconds = static_cast<int64_t>(std::time(nullptr));
  if (args.Has("now")) {
    std::optional<int64_t> v = ParseInt(args.Get("now"));
    if (!v.has_value() || *v < 0) return Usage(io, "--now takes UNIX seconds");
    options.now_unix_seconds = *v;
  }
  if (std::optional<std::string> ttl = args.Get("ttl"); ttl.has_value()) {
    absl::StatusOr<absl::Duration> d =
        ParseCliDuration("ttl", *ttl, /*allow_zero=*/true);
    if (!d.ok()) return Usage(io, d.status().message());
    // Fernet's TTL counts whole seconds (its timestamps do).
    options.ttl_seconds = absl::ToInt64Seconds(*d);
  }
  absl::StatusOr<transport::FernetRing> ring =
      transport::FernetRing::Create(*keys);
  absl::StatusOr<std::string> token = transport::TokenFromBase64(ReadAll(io.in));
  std::string plaintext;
  if (!ring.ok() || !token.ok() ||
      !ring->OpenTo(*token, options, &plaintext).ok()) {
    // One error for every token that does not open (docs/DESIGN.md).
    return StatusError(io, absl::DataLossError("invalid token"));
  }
  io.out.write(plaintext.data(), static_cast<std::streamsize>(plaintext.size()));
  io.out.flush();
  if (!io.out) return StatusError(io, absl::DataLossError("cannot write stdout"));
  return kExitOk;
}

}  // namespace

int RunKeygen(const Args& args, Io io) {
  FlagSpec spec;
  spec.with_value = {"out"};
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, spec);
  if (!parsed.ok()) {
    return UsageError(io, "keygen", kKeygenUsage,
                      std::string(parsed.status().message()));
  }
  if (!parsed->positional().empty()) {
    return UsageError(io, "keygen", kKeygenUsage,
                      "unexpected argument '" + parsed->positional().front() + "'");
  }
  absl::StatusOr<FernetKey> key = FernetKey::Generate();
  if (!key.ok()) return StatusError(io, key.status());
  const std::string line = key->Encode() + "\n";
  std::optional<std::string> out = parsed->Get("out");
  if (!out.has_value()) {
    io.out << line;
    return kExitOk;
  }
  // Never overwrite (a key may be in use) and never readable by others,
  // not even for a moment: created 0600 in one step.
  const int fd = open(out->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    return StatusError(io, absl::Status(absl::ErrnoToStatusCode(err),
                                        absl::StrCat("cannot create ", *out, ": ",
                                                     std::strerror(err))));
  }
  const bool written =
      write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool closed = close(fd) == 0;
  if (!written || !closed) {
    unlink(out->c_str());
    return StatusError(io, absl::DataLossError(absl::StrCat("cannot write ", *out)));
  }
  return kExitOk;
}

int RunFernet(const Args& args, Io io) {
  if (args.empty()) return Usage(io, "give encrypt or decrypt");
  FlagSpec spec;
  spec.with_value = {"key", "key-file", "now", "ttl", "iv"};
  absl::StatusOr<CliArgs> parsed =
      CliArgs::Parse(Args(args.begin() + 1, args.end()), spec);
  if (!parsed.ok()) return Usage(io, parsed.status().message());
  if (!parsed->positional().empty()) {
    return Usage(io, absl::StrCat("unexpected argument '",
                                  parsed->positional().front(), "'"));
  }
  if (args[0] == "encrypt") {
    if (parsed->Has("ttl")) return Usage(io, "--ttl is for decrypt only");
    return Encrypt(*parsed, io);
  }
  if (args[0] == "decrypt") return Decrypt(*parsed, io);
  return Usage(io, absl::StrCat("unknown fernet command '", args[0], "'"));
}

}  // namespace netstructer::tools
