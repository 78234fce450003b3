#include "netstructer/tools/bench/payload.h"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "netstructer/tools/bench/protobuf_like_corpus.h"

namespace netstructer::bench {

const char* ContentName(Content content) {
  return content == Content::kRandom ? "random" : "protobuf_like";
}

std::string RandomPayload(size_t size) {
  std::string out(size, '\0');
  uint64_t x = 42;
  for (size_t i = 0; i < size; i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const uint64_t v = x * uint64_t{2685821657736338717};
    for (size_t b = 0; b < 8 && i + b < size; ++b) {
      out[i + b] = static_cast<char>(v >> (8 * b));  // Little-endian.
    }
  }
  return out;
}

std::string CorpusPath() {
  const char* build = std::getenv("BENCH_BUILD");
  return absl::StrCat(
      build != nullptr && *build != '\0' ? build : "/tmp/netstructer-bench",
      "/limits/corpus_pb.bin");
}

absl::StatusOr<std::string> ProtobufLikePayload(size_t size) {
  const std::string path = CorpusPath();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // No shared bench directory (a fresh clone): the same recipe, in
    // process (protobuf_like_corpus.h).
    std::string out = GenerateProtobufLikeCorpus(size);
    out.resize(size);
    return out;
  }
  std::string out(size, '\0');
  in.read(out.data(), static_cast<std::streamsize>(size));
  if (static_cast<size_t>(in.gcount()) != size) {
    return absl::OutOfRangeError(absl::StrCat(path, " holds ", in.gcount(),
                                              " bytes, fewer than the ", size,
                                              " a payload needs"));
  }
  return out;
}

absl::StatusOr<std::string> MakePayload(Content content, size_t size) {
  if (content == Content::kRandom) return RandomPayload(size);
  return ProtobufLikePayload(size);
}

}  // namespace netstructer::bench
