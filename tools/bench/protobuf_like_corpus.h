// The protobuf_like benchmark content when no corpus file is at hand: the
// recipe of ../shared/bench/limits/framecost.c's `gen` (serialized records
// of ids, user names, e-mails, timestamps, scores, tags, short sentences
// and packed sint32s, from a fixed word list and xorshift64* seeded 42),
// so a clone without the shared bench directory can run `--content
// protobuf_like`. Compresses like that corpus; not promised byte for byte
// (the C tool leaves the order of two calls in one expression to its
// compiler; here it is left to right).
#ifndef NETSTRUCTER_TOOLS_BENCH_PROTOBUF_LIKE_CORPUS_H_
#define NETSTRUCTER_TOOLS_BENCH_PROTOBUF_LIKE_CORPUS_H_

#include <cstddef>
#include <string>

namespace netstructer::bench {

// At least `bytes` bytes (whole records), deterministic.
std::string GenerateProtobufLikeCorpus(size_t bytes);

}  // namespace netstructer::bench

#endif  // NETSTRUCTER_TOOLS_BENCH_PROTOBUF_LIKE_CORPUS_H_
