// The request bytes of the benchmark (shared/bench/WORKLOADS.md, "Payload
// content"): incompressible xorshift64* output, or the prefix of the
// protobuf-like corpus that shared/bench/limits/run.sh writes.
#ifndef NETSTRUCTER_TOOLS_BENCH_PAYLOAD_H_
#define NETSTRUCTER_TOOLS_BENCH_PAYLOAD_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace netstructer::bench {

enum class Content { kRandom, kProtobufLike };

// "random" / "protobuf_like", as the `content` JSON field and --content.
const char* ContentName(Content content);

// xorshift64* from seed 42 (x ^= x>>12; x ^= x<<25; x ^= x>>27;
// out = x * 2685821657736338717), each output stored little-endian,
// truncated to `size`: byte for byte what the gRPC peer sends.
std::string RandomPayload(size_t size);

// ${BENCH_BUILD:-/tmp/netstructer-bench}/limits/corpus_pb.bin.
std::string CorpusPath();

// The first `size` bytes of CorpusPath() (../shared/bench/limits/run.sh
// writes it; the figures of docs/BENCHMARKS.md used it), or, without that
// file, of GenerateProtobufLikeCorpus (the same recipe, in process).
// OUT_OF_RANGE when the file is shorter than `size`.
absl::StatusOr<std::string> ProtobufLikePayload(size_t size);

absl::StatusOr<std::string> MakePayload(Content content, size_t size);

}  // namespace netstructer::bench

#endif  // NETSTRUCTER_TOOLS_BENCH_PAYLOAD_H_
