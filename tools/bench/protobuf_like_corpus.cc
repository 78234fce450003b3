#include "netstructer/tools/bench/protobuf_like_corpus.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace netstructer::bench {
namespace {

constexpr const char* kWords[] = {
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was",
    "with", "be", "by", "on", "not", "request", "response", "server",
    "client", "error", "timeout", "retry", "cache", "user", "order",
    "payment", "account", "session", "token", "latency", "queue", "stream",
    "frame", "buffer", "socket", "connection", "message", "service",
    "method", "status", "pending", "complete", "failed", "shipped",
    "warehouse", "customer", "invoice", "product", "price", "quantity",
    "region", "europe", "asia", "america", "monday", "tuesday", "update",
    "delete", "create", "record", "value", "total", "average", "alpha",
    "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo"};
constexpr uint64_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

class Generator {
 public:
  uint64_t Next() {  // xorshift64*, seed 42.
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * uint64_t{2685821657736338717};
  }
  const char* Word() { return kWords[Next() % kWordCount]; }
  const char* TagWord() { return kWords[16 + Next() % (kWordCount - 16)]; }

 private:
  uint64_t state_ = 42;
};

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutTag(std::string* out, int field, int wire_type) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | wire_type);
}
void PutBytes(std::string* out, int field, const std::string& bytes) {
  PutTag(out, field, 2);
  PutVarint(out, bytes.size());
  out->append(bytes);
}
void PutFixed64(std::string* out, int field, uint64_t bits) {
  PutTag(out, field, 1);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(bits >> (8 * i)));
}

std::string Record(Generator& g, uint64_t id, uint64_t ts) {
  std::string r;
  PutTag(&r, 1, 0);
  PutVarint(&r, id);
  const char* name_word = g.Word();
  const uint64_t name_number = g.Next() % 10000;
  PutBytes(&r, 2, absl::StrCat("user_", name_word, "_", name_number));
  const char* first = g.Word();
  const char* second = g.Word();
  PutBytes(&r, 3, absl::StrCat(first, ".", second, "@example.com"));
  PutFixed64(&r, 4, ts);
  const double score = static_cast<double>(g.Next() % 1000000) / 1000.0;
  uint64_t score_bits;
  std::memcpy(&score_bits, &score, sizeof(score));
  PutFixed64(&r, 5, score_bits);
  const int tags = 1 + static_cast<int>(g.Next() % 4);
  for (int i = 0; i < tags; ++i) PutBytes(&r, 6, g.TagWord());
  const int words = 5 + static_cast<int>(g.Next() % 16);
  std::string sentence;
  for (int i = 0; i < words; ++i) absl::StrAppend(&sentence, i ? " " : "", g.Word());
  PutBytes(&r, 7, sentence);
  std::string packed;
  const int values = 4 + static_cast<int>(g.Next() % 13);
  for (int i = 0; i < values; ++i) {
    const int32_t v = static_cast<int32_t>(g.Next() % 2001) - 1000;
    PutVarint(&packed, (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
  }
  PutBytes(&r, 8, packed);
  return r;
}

}  // namespace

std::string GenerateProtobufLikeCorpus(size_t bytes) {
  Generator g;
  std::string out;
  uint64_t id = 100000;
  uint64_t ts = 1700000000000ULL;
  while (out.size() < bytes) {
    const std::string record = Record(g, id, ts);
    id += 1 + g.Next() % 3;
    ts += g.Next() % 5000;
    PutBytes(&out, 1, record);
  }
  return out;
}

}  // namespace netstructer::bench
