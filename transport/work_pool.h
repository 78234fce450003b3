// Items of one job spread over the cores: the calling thread and a few
// process-wide helper threads each take the next unclaimed item, and the
// calling thread consumes the results in order as soon as each is ready.
// Sealing the frames of a large message is serial inside a Fernet token
// (AES-CBC), so the frames are sealed side by side and written in sequence
// order, the first while the last are still being sealed (docs/DESIGN.md,
// "Sealing across cores").
//
// Thread-safe. The helpers (one fewer than the cores, at most
// kMaxWorkPoolHelpers) start on first use and live until the process exits.
#ifndef NETSTRUCTER_TRANSPORT_WORK_POOL_H_
#define NETSTRUCTER_TRANSPORT_WORK_POOL_H_

#include <cstddef>

#include "absl/functional/function_ref.h"

namespace netstructer::transport {

inline constexpr int kMaxWorkPoolHelpers = 3;

// How many threads RunInOrder may use, the caller included (1 + helpers).
int WorkPoolLanes();

// Calls work(i, lane) once for every i in [0, n), on this thread (lane 0)
// and on up to max_lanes - 1 helpers (lanes 1, 2, ...; at most one thread
// per lane at a time, so per-lane state needs no lock); calls consume(i) on
// this thread for i = 0, 1, ... in order, each once work(i) has returned.
// consume returning false stops the consuming: work already claimed
// finishes, the rest is skipped, and RunInOrder returns. Returns once no
// thread runs `work` any more. `work` must not block on this thread's locks.
void RunInOrder(size_t n, int max_lanes,
                absl::FunctionRef<void(size_t index, int lane)> work,
                absl::FunctionRef<bool(size_t index)> consume);

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_WORK_POOL_H_
