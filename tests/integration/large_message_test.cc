// Messages from 0 B to 256 MiB arrive intact, and while a 256 MiB message is
// received the receiver's peak RSS stays under 64 MiB plus the in-memory
// threshold: large messages are reassembled in an unlinked temporary file.
// The sender is another process, so its memory does not count.
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/testing/child_process.h"
#include "netstructer/tests/testing/subprocess.h"
#include "netstructer/transport/bridge.h"

namespace netstructer {
namespace {

using ::netstructer::testing::ChildProcess;
using ::netstructer::testing::RunfilePath;

constexpr uint64_t kThreshold = uint64_t{8} << 20;

long PeakRssKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Reads the bytes Value's payload from the end of the message body in 1 MiB
// chunks and checks the pattern, never holding the message in memory.
void ExpectPattern(const ReceivedMessage& m, uint64_t n) {
  ASSERT_GE(m.size(), n);
  const uint64_t start = m.size() - n;  // The protobuf header comes first.
  for (uint64_t off = 0; off < n; off += (1 << 20)) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(1 << 20, n - off));
    absl::StatusOr<std::string> chunk = m.Read(start + off, len);
    ASSERT_TRUE(chunk.ok()) << chunk.status();
    for (size_t i = 0; i < len; ++i) {
      ASSERT_EQ(static_cast<uint8_t>((*chunk)[i]),
                static_cast<uint8_t>(((off + i) * 131 + n) & 0xff))
          << "size " << n << " at " << off + i;
    }
  }
}

TEST(LargeMessages, ZeroTo256MiBArriveIntactWithBoundedReceiverMemory) {
  const std::string key_path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/bulk.key");
  const transport::FernetKey key = transport::FernetKey::Generate().value();
  std::ofstream(key_path) << key.Encode() << "\n";
  chmod(key_path.c_str(), 0600);

  ServerOptions options;
  options.keys = {key};
  options.bridge.max_message_bytes = uint64_t{300} << 20;
  options.bridge.memory_threshold_bytes = kThreshold;
  Server server("127.0.0.1:0", options);
  ASSERT_TRUE(server.Init().ok());
  const std::vector<uint64_t> sizes = {0,       1,           1000,
                                       70000,   kThreshold + 1, uint64_t{256} << 20};
  std::vector<std::string> argv = {RunfilePath("tests/integration/bulk_sender"),
                                   server.address(), key_path};
  for (uint64_t n : sizes) argv.push_back(absl::StrCat(n));

  std::shared_ptr<Bridge> session;
  std::unique_ptr<ChildProcess> sender;
  ASSERT_TRUE(server
                  .ListenOn([&](Server& s) {
                    auto child = ChildProcess::Start(argv);
                    ASSERT_TRUE(child.ok());
                    sender = *std::move(child);
                    auto accepted = s.Accept(absl::Seconds(30));
                    ASSERT_TRUE(accepted.ok()) << accepted.status();
                    session = *accepted;
                  })
                  .ok());
  ASSERT_NE(session, nullptr);
  const long rss_before = PeakRssKiB();
  for (uint64_t n : sizes) {
    RecvOptions o;
    o.timeout = absl::Seconds(120);
    absl::StatusOr<ReceivedMessage> m = session->RecvRaw(o);
    ASSERT_TRUE(m.ok()) << n << ": " << m.status();
    EXPECT_EQ(m->in_file(), m->size() > kThreshold) << n;
    ExpectPattern(*m, n);
  }
  const long rss_after = PeakRssKiB();
  std::printf("receiver peak RSS: %ld KiB before, %ld KiB after the 256 MiB message\n",
              rss_before, rss_after);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitizer allocators keep freed memory in quarantine (256 MiB for ASan)
  // and shadow it: the bound is checked in normal builds only.
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#else
  EXPECT_LT(rss_after, (64 << 10) + static_cast<long>(kThreshold >> 10));
#endif
#else
  EXPECT_LT(rss_after, (64 << 10) + static_cast<long>(kThreshold >> 10));
#endif
  EXPECT_EQ(sender->Stop(0) /* already exiting: reap it */, 0) << sender->err();
}

}  // namespace
}  // namespace netstructer
