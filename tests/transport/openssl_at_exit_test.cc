// A process whose loop threads use OpenSSL ends cleanly: no leak report, no
// use of OpenSSL after its exit-time cleanup.
//
// The order this forces: the shared client group is made (its atexit
// handler registered) before OpenSSL first initializes (on a loop thread,
// by a seal: OpenSSL registers its own atexit handler then). atexit
// handlers run in reverse, so OpenSSL's cleanup used to run first and
// delete its per-thread keys; the loop threads, joined afterwards, then
// ended without freeing their per-thread random generators, and
// LeakSanitizer (--config=asan) failed the process. A detached thread
// ending during exit did the same at random (CI, 2026-12-05:
// bench_smoke_test's server). Its own main, not gtest's: the check is
// what happens after main returns.
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>

#include "netstructer/transport/event_loop.h"
#include "netstructer/transport/event_loop_group.h"
#include "netstructer/transport/fernet.h"

int main() {
  using netstructer::transport::EventLoopGroup;
  absl::StatusOr<std::shared_ptr<EventLoopGroup>> group =
      EventLoopGroup::Shared();
  if (!group.ok()) {
    std::fprintf(stderr, "no group: %s\n", group.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<netstructer::transport::FernetKey> key =
      netstructer::transport::FernetKey::FromRaw(std::string(32, 'k'));
  if (!key.ok()) return 1;
  int sealed = 0;
  for (int i = 0; i < (*group)->size(); ++i) {
    std::promise<bool> ok;
    (*group)->loop(i)->Post([&] {
      netstructer::transport::Fernet fernet(*key);
      ok.set_value(fernet.Seal("at exit", 1).ok());
    });
    if (ok.get_future().get()) ++sealed;
  }
  if (sealed != (*group)->size()) {
    std::fprintf(stderr, "sealed on %d of %d loops\n", sealed,
                 (*group)->size());
    return 1;
  }
  std::printf("sealed on %d loops; exiting\n", sealed);
  return 0;  // The check is LeakSanitizer's, after this.
}
