#include "netstructer/transport/buffer_pool.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace netstructer::transport {
namespace {

TEST(BufferPoolTest, ReturnedLargeBuffersAreReused) {
  std::string a = TakeBuffer(1 << 20);
  EXPECT_TRUE(a.empty());
  EXPECT_GE(a.capacity(), size_t{1} << 20);
  a.assign(1000, 'x');
  const char* memory = a.data();
  ReturnBuffer(std::move(a));
  std::string b = TakeBuffer(512 << 10);  // Smaller fits in the same one.
  EXPECT_TRUE(b.empty());                 // Handed out cleared.
  EXPECT_EQ(b.data(), memory);
  ReturnBuffer(std::move(b));
}

TEST(BufferPoolTest, StreamSizedBuffersAreReusedWithLittleWaste) {
  // A 16 KiB payload serialised: 16,387 bytes.
  std::string a = TakeBuffer(16387);
  EXPECT_GE(a.capacity(), size_t{16387});
  EXPECT_LE(a.capacity(), size_t{16387} * 5 / 4);  // Four classes a doubling.
  const char* memory = a.data();
  ReturnBuffer(std::move(a));
  std::string b = TakeBuffer(16387);
  EXPECT_EQ(b.data(), memory);
  ReturnBuffer(std::move(b));
}

TEST(BufferPoolTest, SmallBuffersAreNotKept) {
  std::string small = TakeBuffer(1000);
  EXPECT_GE(small.capacity(), size_t{1000});
  const size_t before = PooledBytes();
  ReturnBuffer(std::move(small));
  EXPECT_EQ(PooledBytes(), before);
}

TEST(BufferPoolTest, HugeBuffersAreNotKept) {
  std::string huge = TakeBuffer(size_t{32} << 20);  // Above the 16 MiB cap.
  ReturnBuffer(std::move(huge));
  // Had it been kept, it would be the only one that fits this request.
  std::string got = TakeBuffer(size_t{20} << 20);
  EXPECT_GE(got.capacity(), size_t{20} << 20);
  EXPECT_LT(got.capacity(), size_t{32} << 20);
}

TEST(BufferPoolTest, TheSmallestFittingBufferIsTaken) {
  std::string big = TakeBuffer(4 << 20);
  std::string medium = TakeBuffer(1 << 20);
  const char* medium_memory = medium.data();
  ReturnBuffer(std::move(big));
  ReturnBuffer(std::move(medium));
  std::string got = TakeBuffer(900 << 10);
  EXPECT_EQ(got.data(), medium_memory);
}

TEST(BufferPoolTest, AClassKeepsAtMostSixteenMiB) {
  // 3,000 buffers of 6 KiB returned at once (a drained 18 MiB backlog):
  // the pool keeps one class's worth and frees the rest. (No other test
  // leaves buffers that a 6 KiB request could take.)
  std::vector<std::string> taken;
  for (int i = 0; i < 3000; ++i) taken.push_back(TakeBuffer(6 << 10));
  const size_t before = PooledBytes();
  for (std::string& b : taken) ReturnBuffer(std::move(b));
  EXPECT_GT(PooledBytes(), before);
  EXPECT_LE(PooledBytes() - before, size_t{16} << 20);
  EXPECT_LE(PooledBytes(), size_t{64} << 20);
}

}  // namespace
}  // namespace netstructer::transport
