#include "rpc/buffer_pool.h"

#include <string>

#include "gtest/gtest.h"

namespace netstructer::rpc {
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

}  // namespace
}  // namespace netstructer::rpc
