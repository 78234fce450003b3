// Shared by the files that implement netstructer::Bridge (bridge.cc: life
// and close; bridge_output.cc: sealing and writing; bridge_input.cc: reading
// and dispatching frames; bridge_receive.cc: callers receiving), and by no
// one else.
#ifndef NETSTRUCTER_TRANSPORT_BRIDGE_INTERNAL_H_
#define NETSTRUCTER_TRANSPORT_BRIDGE_INTERNAL_H_

#include <cstddef>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "netstructer/transport/bridge.h"

namespace netstructer {
namespace bridge_internal {

// The longest reason a GOAWAY carries (docs/PROTOCOL.md 8.3).
inline constexpr size_t kMaxStatusReasonBytes = 512;

inline int64_t NowSeconds() { return absl::ToUnixSeconds(absl::Now()); }

// The Bridge whose input this thread is dispatching, if any (OutputBatch).
extern thread_local const Bridge* tls_batching_bridge;
// The Bridge whose input this thread is processing (it holds its read_mu_).
extern thread_local const Bridge* tls_reading_bridge;

}  // namespace bridge_internal

// While a thread dispatches the frames of one read, what they make it send
// (responses, acknowledgements, credit, calls issued from callbacks) is
// sealed into the output buffer and written with one system call at the
// end: under load one `send` carries many frames.
class Bridge::OutputBatch {
 public:
  explicit OutputBatch(Bridge* bridge)
      : bridge_(bridge), previous_(bridge_internal::tls_batching_bridge) {
    bridge_internal::tls_batching_bridge = bridge;
  }
  ~OutputBatch() {
    bridge_internal::tls_batching_bridge = previous_;
    if (!bridge_->batched_output_.exchange(false)) return;
    bool write;
    {
      MutexLock lock(&bridge_->write_mu_);
      write = bridge_->TakeWriterRoleLocked();
    }
    if (write) (void)bridge_->WriteAsWriter();
  }
  OutputBatch(const OutputBatch&) = delete;
  OutputBatch& operator=(const OutputBatch&) = delete;

 private:
  Bridge* const bridge_;
  const Bridge* const previous_;
};

}  // namespace netstructer

#endif  // NETSTRUCTER_TRANSPORT_BRIDGE_INTERNAL_H_
