// Interop of payload compression with an independent implementation:
// Debian's python3-lz4 (lz4.block), both directions. Our payload is
// `u32 BE uncompressed size | lz4 block`; lz4.block's own store_size prefix is
// little-endian, so the scripts use store_size=False and handle the 4 bytes
// themselves. Python runs once per direction with every case batched, one hex
// line per case.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "netstructer/tests/testing/python.h"
#include "netstructer/transport/compression.h"
#include "netstructer/transport/frame_format.h"

namespace netstructer::transport {
namespace {

struct Case {
  std::string name;
  std::string data;
};

std::vector<Case> Cases() {
  const size_t sizes[] = {0,    1,    4,     5,     6,     15,   16,
                          17,   100,  255,   256,   1023,  1024, 1025,
                          4096, 8191, 65535, 65536, 65537, 70000};
  std::vector<Case> cases;
  std::mt19937 rng(7);
  for (size_t size : sizes) {
    std::string text;
    for (int i = 0; text.size() < size; ++i) {
      absl::StrAppend(&text, "name: \"item", i % 13, "\" id: ", i * 7919 % 5000,
                      "\n");
    }
    text.resize(size);
    std::string random(size, '\0');
    for (char& c : random) c = static_cast<char>(rng());
    cases.push_back({absl::StrCat("text/", size), text});
    cases.push_back({absl::StrCat("random/", size), random});
    cases.push_back({absl::StrCat("zeros/", size), std::string(size, '\0')});
  }
  return cases;
}

constexpr absl::string_view kDecompressScript = R"py(
import struct, sys
import lz4.block
for line in sys.stdin:
    payload = bytes.fromhex(line.strip())
    (size,) = struct.unpack(">I", payload[:4])
    data = lz4.block.decompress(payload[4:], uncompressed_size=size)
    assert len(data) == size, (len(data), size)
    print(data.hex())
)py";

constexpr absl::string_view kCompressScript = R"py(
import struct, sys
import lz4.block
for line in sys.stdin:
    data = bytes.fromhex(line.strip())
    prefix = struct.pack(">I", len(data))
    blocks = [
        lz4.block.compress(data, store_size=False),
        lz4.block.compress(data, mode="fast", acceleration=8, store_size=False),
        lz4.block.compress(data, mode="high_compression", compression=12,
                           store_size=False),
    ]
    print(" ".join((prefix + b).hex() for b in blocks))
)py";

std::vector<std::string> Lines(absl::string_view text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

TEST(CompressionInterop, PythonLz4DecompressesOurPayloads) {
  const std::vector<Case> cases = Cases();
  CompressionOptions options;
  options.threshold_bytes = 0;
  std::vector<const Case*> sent;
  std::string input;
  for (const Case& c : cases) {
    std::optional<std::string> payload = MaybeCompress(c.data, options);
    if (!payload.has_value()) continue;
    sent.push_back(&c);
    absl::StrAppend(&input, absl::BytesToHexString(*payload), "\n");
  }
  // Everything compressible from 32 bytes up: 2 kinds x 13 sizes.
  ASSERT_GE(sent.size(), 26u);
  absl::StatusOr<std::string> output =
      testing::RunPython(kDecompressScript, input);
  ASSERT_TRUE(output.ok()) << output.status();
  const std::vector<std::string> lines = Lines(*output);
  ASSERT_EQ(lines.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(absl::HexStringToBytes(lines[i]), sent[i]->data) << sent[i]->name;
  }
}

TEST(CompressionInterop, WeDecompressPythonLz4Blocks) {
  const std::vector<Case> cases = Cases();
  std::string input;
  for (const Case& c : cases) {
    absl::StrAppend(&input, absl::BytesToHexString(c.data), "\n");
  }
  absl::StatusOr<std::string> output =
      testing::RunPython(kCompressScript, input);
  ASSERT_TRUE(output.ok()) << output.status();
  const std::vector<std::string> lines = Lines(*output);
  ASSERT_EQ(lines.size(), cases.size());
  int checked = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<std::string> payloads = absl::StrSplit(lines[i], ' ');
    ASSERT_EQ(payloads.size(), 3u) << cases[i].name;
    for (const std::string& hex : payloads) {
      // Blocks of incompressible data are larger than the data: we still
      // decode them (a peer may send them), with the limit at exactly the size.
      absl::StatusOr<std::string> data =
          Decompress(absl::HexStringToBytes(hex), cases[i].data.size());
      ASSERT_TRUE(data.ok()) << cases[i].name << ": " << data.status();
      EXPECT_EQ(*data, cases[i].data) << cases[i].name;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3 * 3 * 20);
}

}  // namespace
}  // namespace netstructer::transport
