#include "netstructer/transport/buffer_pool.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "netstructer/transport/mutex.h"

namespace netstructer::transport {
namespace {

constexpr size_t kMaxBufferBytes = size_t{16} << 20;  // One buffer.
constexpr size_t kMaxClassBytes = size_t{16} << 20;   // One class, in all.
constexpr size_t kMaxPooledBytes = size_t{64} << 20;  // All classes.
// Four classes per doubling from kMinPooledBytes up to kMaxBufferBytes.
constexpr int kClassesPerDoubling = 4;
constexpr int kDoublings = 12;  // 4 KiB << 12 = 16 MiB.
constexpr int kClasses = kDoublings * kClassesPerDoubling + 1;
// A request may take a buffer up to this many classes larger (about 2x).
constexpr int kLargerClassesTried = kClassesPerDoubling;

constexpr size_t ClassBytes(int c) {
  const size_t base = kMinPooledBytes << (c / kClassesPerDoubling);
  return base + base / kClassesPerDoubling * (c % kClassesPerDoubling);
}
static_assert(ClassBytes(kClasses - 1) == kMaxBufferBytes);

// The smallest class that holds `bytes` (kClasses if none does).
int ClassFor(size_t bytes) {
  int c = 0;
  while (c < kClasses && ClassBytes(c) < bytes) ++c;
  return c;
}

struct Pool {
  Mutex mu;
  std::array<std::vector<std::string>, kClasses> free ABSL_GUARDED_BY(mu);
  std::array<size_t, kClasses> class_bytes ABSL_GUARDED_BY(mu) = {};
  size_t bytes ABSL_GUARDED_BY(mu) = 0;
};

Pool& GetPool() {
  static Pool* const pool = new Pool();  // Never destroyed: used at exit.
  return *pool;
}

}  // namespace

std::string TakeBuffer(size_t capacity) {
  std::string out;
  if (capacity < kMinPooledBytes || capacity > kMaxBufferBytes) {
    out.reserve(capacity);
    return out;
  }
  const int wanted = ClassFor(capacity);
  {
    Pool& pool = GetPool();
    MutexLock lock(&pool.mu);
    const int last = std::min(kClasses - 1, wanted + kLargerClassesTried);
    for (int c = wanted; c <= last; ++c) {
      std::vector<std::string>& list = pool.free[c];
      if (list.empty()) continue;
      out = std::move(list.back());
      list.pop_back();
      pool.class_bytes[c] -= out.capacity();
      pool.bytes -= out.capacity();
      out.clear();
      return out;
    }
  }
  // Allocated at its class's size, so that it goes back to that class.
  out.reserve(ClassBytes(wanted));
  return out;
}

void ReturnBuffer(std::string buffer) {
  const size_t capacity = buffer.capacity();
  if (capacity < kMinPooledBytes || capacity > kMaxBufferBytes) return;
  // The largest class whose requests this buffer satisfies.
  int c = ClassFor(capacity);
  if (c == kClasses || ClassBytes(c) > capacity) --c;
  Pool& pool = GetPool();
  MutexLock lock(&pool.mu);
  if (pool.class_bytes[c] + capacity > kMaxClassBytes ||
      pool.bytes + capacity > kMaxPooledBytes) {
    return;  // Freed with `buffer`.
  }
  pool.class_bytes[c] += capacity;
  pool.bytes += capacity;
  pool.free[c].push_back(std::move(buffer));
}

size_t PooledBytes() {
  Pool& pool = GetPool();
  MutexLock lock(&pool.mu);
  return pool.bytes;
}

}  // namespace netstructer::transport
