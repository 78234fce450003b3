// Message buffers reused across calls. A message takes a buffer on its way
// in (reassembled from frames, parsed, returned) and on its way out
// (serialised, framed, returned). Allocated fresh each time, buffers of a
// few KiB and up cost more than their copying on this project's VMs:
// a stream's window of queued messages grows the heap, the reader drains
// it, glibc trims the freed top back to the kernel (a TLB shootdown of
// every thread), and the next window faults it all in again, about one page
// fault per 16 KiB message (docs/BENCHMARKS.md: W4 ran at half speed).
//
// Buffers are kept in size classes, four per doubling (4 KiB, 5 KiB, 6 KiB,
// 7 KiB, 8 KiB, 10 KiB, ... 16 MiB), so a request wastes at most a quarter
// of its size; a class keeps at most 16 MiB and the pool 64 MiB in all,
// process-wide. Thread-safe. Smaller buffers are not pooled (malloc's
// thread caches serve them well).
#ifndef NETSTRUCTER_TRANSPORT_BUFFER_POOL_H_
#define NETSTRUCTER_TRANSPORT_BUFFER_POOL_H_

#include <cstddef>
#include <string>

namespace netstructer::transport {

// Buffers below this are not pooled.
inline constexpr size_t kMinPooledBytes = 4 * 1024;

// An empty string with at least `capacity` bytes reserved.
std::string TakeBuffer(size_t capacity);
// Keeps `buffer`'s memory for a later TakeBuffer (bounded in bytes; the
// rest is freed).
void ReturnBuffer(std::string buffer);

// Bytes the pool holds now (for tests and diagnostics).
size_t PooledBytes();

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_BUFFER_POOL_H_
