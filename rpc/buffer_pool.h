// Large message buffers reused across calls. A 1 MiB message takes several
// 1 MiB buffers on its way (serialised, reassembled, parsed); allocated
// fresh each time, they cost first-touch page faults and trimming of the
// heap on every call, which on this project's VMs is most of a large call's
// time (docs/BENCHMARKS.md). Process-wide and thread-safe; small buffers are
// not pooled (malloc serves them well).
#ifndef NETSTRUCTER_RPC_BUFFER_POOL_H_
#define NETSTRUCTER_RPC_BUFFER_POOL_H_

#include <cstddef>
#include <string>

namespace netstructer::rpc {

// Buffers below this are not pooled.
inline constexpr size_t kMinPooledBytes = 64 * 1024;

// An empty string with at least `capacity` bytes reserved.
std::string TakeBuffer(size_t capacity);
// Keeps `buffer`'s memory for a later TakeBuffer (a few buffers, bounded in
// bytes; the rest is freed).
void ReturnBuffer(std::string buffer);

}  // namespace netstructer::rpc

#endif  // NETSTRUCTER_RPC_BUFFER_POOL_H_
