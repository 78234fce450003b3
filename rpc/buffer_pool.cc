#include "rpc/buffer_pool.h"

#include <utility>
#include <vector>

#include "transport/mutex.h"

namespace netstructer::rpc {
namespace {

constexpr size_t kMaxBuffers = 16;
constexpr size_t kMaxPooledBytes = size_t{64} << 20;  // All buffers together.
constexpr size_t kMaxBufferBytes = size_t{16} << 20;  // One buffer.

struct Pool {
  Mutex mu;
  std::vector<std::string> buffers ABSL_GUARDED_BY(mu);
  size_t bytes ABSL_GUARDED_BY(mu) = 0;
};

Pool& GetPool() {
  static Pool* const pool = new Pool();  // Never destroyed: used at exit.
  return *pool;
}

}  // namespace

std::string TakeBuffer(size_t capacity) {
  std::string out;
  if (capacity >= kMinPooledBytes) {
    Pool& pool = GetPool();
    MutexLock lock(&pool.mu);
    // The smallest buffer that fits.
    size_t best = pool.buffers.size();
    for (size_t i = 0; i < pool.buffers.size(); ++i) {
      const size_t c = pool.buffers[i].capacity();
      if (c >= capacity && (best == pool.buffers.size() ||
                            c < pool.buffers[best].capacity())) {
        best = i;
      }
    }
    if (best != pool.buffers.size()) {
      out = std::move(pool.buffers[best]);
      pool.buffers[best] = std::move(pool.buffers.back());
      pool.buffers.pop_back();
      pool.bytes -= out.capacity();
    }
  }
  out.clear();
  out.reserve(capacity);
  return out;
}

void ReturnBuffer(std::string buffer) {
  const size_t c = buffer.capacity();
  if (c < kMinPooledBytes || c > kMaxBufferBytes) return;
  Pool& pool = GetPool();
  MutexLock lock(&pool.mu);
  if (pool.buffers.size() >= kMaxBuffers || pool.bytes + c > kMaxPooledBytes) {
    return;  // Freed with `buffer`, outside nothing: fine under the lock.
  }
  pool.bytes += c;
  pool.buffers.push_back(std::move(buffer));
}

}  // namespace netstructer::rpc
