// `netstructer serve`: a server that prints every buffer it receives, one
// line each: the peer IP, a space, the value's Python repr.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/terminal_text.h"
#include "netstructer/service/server.h"
#include "netstructer/tools/cli_args.h"
#include "netstructer/transport/connection_end.h"
#include "netstructer/transport/key_file.h"
#include "netstructer/transport/mutex.h"
#include "tools/commands.h"

namespace netstructer::tools {

const char kServeUsage[] =
    "usage: netstructer serve --listen [HOST]:PORT (--key-file PATH | --insecure)\n"
    "                         [--allow CIDR]... [--deny CIDR]...\n"
    "                         [--max-sessions-per-ip N] [--max-sessions N]\n"
    "                         [--idle-timeout DURATION]\n"
    "                         [--max-session-lifetime DURATION]\n"
    "Prints one line per received buffer: the peer IP, a space, its Python\n"
    "repr. Session events go to stderr, each session with the index of its\n"
    "key in the ring (0 = the primary). Stops on SIGINT or SIGTERM; SIGHUP\n"
    "reloads --key-file for new handshakes and closes the sessions of keys\n"
    "it no longer holds (rotation, revocation: docs/SECURITY.md).\n"
    "  --listen [HOST]:PORT          where (required); \":PORT\" is every\n"
    "                                IPv4 interface (0.0.0.0), \"[::]:PORT\"\n"
    "                                every IPv6 one; PORT 0 any free one\n"
    "  --key-file PATH               the key ring, primary first\n"
    "  --insecure                    no key (plaintext frames)\n"
    "  --allow CIDR, --deny CIDR     accept policy (default: allow all)\n"
    "  --max-sessions-per-ip N       default 64 (0 = no cap)\n"
    "  --max-sessions N              default 10000 (0 = no cap)\n"
    "  --idle-timeout DURATION       default none (500ms, 2s, 1m, or seconds)\n"
    "  --max-session-lifetime DURATION  default none\n";

namespace {

int Usage(Io io, absl::string_view problem) {
  return UsageError(io, "serve", kServeUsage, std::string(problem));
}

}  // namespace

int RunServe(const Args& args, Io io) {
  FlagSpec spec;
  spec.with_value = {"listen",       "key-file",           "allow",
                     "deny",         "max-sessions-per-ip", "max-sessions",
                     "idle-timeout", "max-session-lifetime"};
  spec.boolean = {"insecure"};
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, spec);
  if (!parsed.ok()) return Usage(io, parsed.status().message());
  if (!parsed->positional().empty()) {
    return Usage(io, absl::StrCat("unexpected argument '",
                                  parsed->positional().front(), "'"));
  }
  std::optional<std::string> listen = parsed->Get("listen");
  if (!listen.has_value()) return Usage(io, "--listen is required");
  if (absl::StartsWith(*listen, ":")) {
    // Every IPv4 interface; "[::]:PORT" is every IPv6 one.
    int port = -1;
    if (!absl::SimpleAtoi(listen->substr(1), &port) || port < 0 || port > 65535) {
      return Usage(io, absl::StrCat("--listen '", *listen,
                                    "': the port is not a number 0-65535"));
    }
    *listen = "0.0.0.0" + *listen;
  }
  if (parsed->Has("insecure") == parsed->Has("key-file")) {
    return Usage(io, "give exactly one of --key-file and --insecure");
  }
  absl::StatusOr<service::AcceptPolicyOptions> policy =
      service::AcceptPolicyOptions::ParseRules(parsed->GetAll("allow"),
                                               parsed->GetAll("deny"));
  if (!policy.ok()) return Usage(io, policy.status().message());
  for (const char* flag : {"max-sessions-per-ip", "max-sessions"}) {
    if (std::optional<std::string> v = parsed->Get(flag); v.has_value()) {
      int n = 0;
      if (!absl::SimpleAtoi(*v, &n) || n < 0) {
        return Usage(io, absl::StrCat("--", flag, " takes a count >= 0"));
      }
      (std::string(flag) == "max-sessions" ? policy->max_sessions_total
                                           : policy->max_sessions_per_ip) = n;
    }
  }
  for (const char* flag : {"idle-timeout", "max-session-lifetime"}) {
    if (std::optional<std::string> v = parsed->Get(flag); v.has_value()) {
      absl::StatusOr<absl::Duration> d = ParseCliDuration(flag, *v);
      if (!d.ok()) return Usage(io, d.status().message());
      (std::string(flag) == "idle-timeout" ? policy->idle_timeout
                                           : policy->max_session_lifetime) = *d;
    }
  }
  ServerOptions options;
  options.policy = *policy;
  if (parsed->Has("insecure")) {
    options.insecure = true;
  } else {
    absl::StatusOr<std::vector<transport::FernetKey>> keys =
        transport::LoadKeyFile(*parsed->Get("key-file"));
    if (!keys.ok()) return StatusError(io, keys.status());
    options.keys = *keys;
  }

  // Signals are taken by a dedicated thread (sigwait), never by a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Server server(*listen, options);
  if (absl::Status s = server.Init(); !s.ok()) return StatusError(io, s);
  io.err << absl::StrCat("netstructer: listening on ", server.address(),
                         options.insecure ? " (INSECURE: plaintext frames)" : "",
                         "\n")
         << std::flush;

  Mutex out_mu;
  // One reader thread per session; finished ones are joined as new sessions
  // arrive, so a long-running server does not keep a thread per past session.
  struct Reader {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Reader> readers;
  // SIGHUP reloads the key file for new handshakes (key rotation without a
  // restart, docs/SECURITY.md); a file that does not load keeps the old ring.
  std::thread stopper([&] {
    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig != SIGHUP) break;
      if (options.insecure) continue;
      const std::string path = *parsed->Get("key-file");
      absl::StatusOr<std::vector<transport::FernetKey>> keys =
          transport::LoadKeyFile(path);
      absl::Status s = keys.ok() ? server.SetKeys(*std::move(keys)) : keys.status();
      const size_t revoked = s.ok() ? server.CloseSessionsOfRemovedKeys() : 0;
      MutexLock lock(&out_mu);
      if (s.ok()) {
        io.err << "netstructer: reloaded the key ring from " << path
               << "; closed " << revoked
               << " session(s) made with a key no longer in it" << std::endl;
      } else {
        io.err << "netstructer: kept the old key ring: " << StatusForTerminal(s)
               << std::endl;
      }
    }
    server.Shutdown(absl::Seconds(1));
  });
  absl::Status listened = server.ListenOn([&](Server& s) {
    for (;;) {
      absl::StatusOr<std::shared_ptr<Bridge>> session = s.Accept();
      if (!session.ok()) return;  // Shut down.
      std::shared_ptr<Bridge> bridge = *session;
      {
        MutexLock lock(&out_mu);
        io.err << "netstructer: session from " << bridge->peer_address();
        if (std::optional<int> key = bridge->key_index(); key.has_value()) {
          io.err << " (key " << *key << ")";
        }
        io.err << std::endl;
      }
      for (auto it = readers.begin(); it != readers.end();) {
        if (!it->done->load()) {
          ++it;
          continue;
        }
        it->thread.join();
        it = readers.erase(it);
      }
      auto done = std::make_shared<std::atomic<bool>>(false);
      Reader& reader = readers.emplace_back();
      reader.done = done;
      reader.thread = std::thread([bridge, &out_mu, io, done] {
        struct MarkDone {
          std::atomic<bool>* done;
          ~MarkDone() { done->store(true); }
        } mark{done.get()};
        for (;;) {
          absl::StatusOr<Value> value = bridge->RecvBuffer();
          MutexLock lock(&out_mu);
          if (value.ok()) {
            io.out << bridge->peer_ip() << " " << Repr(*value) << std::endl;
          } else if (IsConnectionEnd(value.status())) {
            io.err << "netstructer: session from " << bridge->peer_address()
                   << " ended: " << StatusForTerminal(value.status())
                   << std::endl;
            return;
          } else {
            // That one message failed (too large, not a Value); the
            // session goes on.
            io.err << "netstructer: " << bridge->peer_address() << ": "
                   << StatusForTerminal(value.status()) << std::endl;
          }
        }
      });
    }
  });
  stopper.join();
  for (Reader& reader : readers) reader.thread.join();
  if (!listened.ok()) return StatusError(io, listened);
  return kExitOk;
}

}  // namespace netstructer::tools
