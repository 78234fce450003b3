// Writes the seed corpus of the `connection` fuzz target
// (connection_fuzz_input.h) into the directory named on the command line:
//   bazel run //tests/fuzz:connection_seeds -- $PWD/tests/fuzz/corpus/connection
// Each seed is one meaningful connection: valid call sequences (whose
// results the fuzzer checks exactly) and single protocol violations.
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "netstructer/tests/fuzz/connection_fuzz_input.h"

namespace netstructer::fuzz {
namespace {

using Seeds = std::vector<std::pair<std::string, InputWriter>>;

// UNARY: method, text, n, fail code (then the variant's fields).
InputWriter& Unary(InputWriter& w, uint8_t variant, uint8_t method,
                   const std::string& text, uint32_t n, uint8_t fail = 0) {
  return w.Op(kOpUnary, variant).U8(method).Str16(text).U32(n).U8(fail);
}

// STREAM_OPEN: method, text, n.
InputWriter& Open(InputWriter& w, uint8_t variant, uint8_t method,
                  const std::string& text = "", uint32_t n = 0) {
  return w.Op(kOpStreamOpen, variant).U8(method).Str16(text).U32(n);
}

// STREAM_MSG on the call `selector` picks.
InputWriter& Message(InputWriter& w, uint8_t variant, uint8_t selector,
                     const std::string& text, uint32_t n) {
  return w.Op(kOpStreamMsg, variant).U8(selector).Str16(text).U32(n);
}

// RAW frame on the stream `selector` picks.
InputWriter& Raw(InputWriter& w, uint8_t variant, uint8_t type, uint8_t flags,
                 uint8_t selector, const std::string& payload) {
  return w.Op(kOpRaw, variant).U8(type).U8(flags).U8(selector).Str16(payload);
}

Seeds MakeSeeds() {
  Seeds seeds;
  auto add = [&](const char* name, uint8_t config) -> InputWriter& {
    seeds.emplace_back(name, InputWriter(config));
    return seeds.back().second;
  };
  // Valid call sequences.
  Unary(add("unary_echo", 0), 0, kMethodUnary, "hello", 42);
  // Request in a DATA frame after the HEADERS, lz4, initial metadata.
  Unary(add("unary_split_compressed_metadata", 0), 1 | 2 | 8, kMethodUnary,
        std::string(600, 'a'), 7)
      .U8(0)
      .Str8("v1");
  {
    InputWriter& w = add("unary_status_and_other_methods", 0);
    Unary(w, 2, kMethodUnary, "not found", 1, /*fail=*/5).U8(1).Str8("t");
    Unary(w, 0, 4, "", 0);  // Health/Check
    Unary(w, 0, 5, "", 0);  // Reflection/ListServices
    Unary(w, 0, 6, "netstructer.test.rpc.Echo", 0);
    Unary(w, 0, 7, "", 0);  // An unknown method.
    w.Op(kOpUnary).U8(0xff).Str8("/x.Y/Z").Str16("").U32(0).U8(0);
  }
  Unary(add("unary_deadline", 0), 4, kMethodUnary, "late", 1).U32(1);
  {
    InputWriter& w = add("client_streaming_sum", 0);
    Open(w, 0, kMethodSum);
    Message(w, 0, 0, "a", 1);
    Message(w, 1, 0, "b", 2);
    Message(w, 0, 0, "c", 39);
    w.Op(kOpStreamEnd).U8(0);
  }
  Open(add("server_streaming_range", 0), 1, kMethodRange, "r", 5);
  {
    InputWriter& w = add("bidi_chat", 0);
    Open(w, 0, kMethodChat);
    Message(w, 0, 0, "one", 1);
    Message(w, 1, 0, "two", 2);
    Message(w, 2 | 8, 0, std::string(3000, 'z'), 3);
  }
  {
    InputWriter& w = add("bridge_messages", 0);
    w.Op(kOpBridge).Str16("a value's bytes");
    w.Op(kOpBridge, 1 | 2).Str16("\x0a\x02hi").U8(3);  // Typed, 4-byte frames.
    w.Op(kOpBridge, 8).Str16(std::string(2000, 'b'));
  }
  {
    InputWriter& w = add("ping_and_window_updates", 0);
    w.Op(kOpPing).Raw("12345678");
    w.Op(kOpPing, 1).Raw("abcdefgh");  // An ACK: no answer.
    w.Op(kOpWindowUpdate, 1).U32(4096);
    Unary(w, 0, kMethodUnary, "x", 1);
    w.Op(kOpWindowUpdate).U8(0).U32(65536);
  }
  {
    InputWriter& w = add("cancel_then_call", 0);
    Open(w, 0, kMethodChat);
    Message(w, 0, 0, "hi", 1);
    w.Op(kOpCancel).U8(0).U8(1).Str8("bye");
    Unary(w, 0, kMethodUnary, "after", 2);
  }
  {
    InputWriter& w = add("insecure_unary_and_chat", kConfigInsecure);
    Unary(w, 0, kMethodUnary, "plain", 3);
    Open(w, 0, kMethodChat);
    Message(w, 2, 1, "bye", 4);
  }
  {
    InputWriter& w = add("pool_unary_and_range", kConfigPool);
    Unary(w, 0, kMethodUnary, "pooled", 5);
    Open(w, 1, kMethodRange, "r", 3);
    Unary(w, 0, kMethodUnary, "failing", 6, /*fail=*/3);
  }
  {
    // Over the 4 KiB message limit: the call fails, the connection goes
    // on; a Bridge message over it is discarded, one over 512 bytes spills.
    InputWriter& w = add("small_limits_oversized", kConfigSmallLimits);
    Unary(w, 0, kMethodUnary, std::string(5000, 'x'), 1);
    w.Op(kOpBridge).Str16(std::string(5000, 'y'));
    w.Op(kOpBridge, 2).Str16(std::string(1000, 'w')).U8(99);
    Unary(w, 0, kMethodUnary, "still fine", 2);
  }
  {
    InputWriter& w = add("small_limits_stream_cap", kConfigSmallLimits);
    for (int i = 0; i < 6; ++i) Open(w, 0, kMethodChat);
    Unary(w, 0, kMethodUnary, "refused", 1);
  }
  // Endings.
  {
    InputWriter& w = add("ping_crossing_goaway", 0);
    w.Op(kOpGoAway).U8(14).Str8("maintenance");
    w.Op(kOpPing).Raw("87654321");
  }
  {
    InputWriter& w = add("close_reset_mid_stream", 0);
    Open(w, 0, kMethodSum);
    Message(w, 0, 0, "a", 1);
    w.Op(kOpClose, 1);
  }
  {
    InputWriter& w = add("close_half_mid_call", 0);
    Open(w, 0, kMethodChat);
    w.Op(kOpClose, 0);
  }
  // Protocol violations, one each.
  add("oversized_frame_length", 0).Op(kOpGarbage).Str8("\x7f\xff\xff\xff");
  {
    // A Bridge message declaring 2^40 bytes, ended after 0.
    std::string header = std::string("\0\0\x01\0\0\0\0\0\x01", 9);
    Raw(add("bridge_declared_huge", 0), 0, 0x02, 0x04, kStreamBridge, header);
  }
  Raw(add("unknown_frame_type", 0), 0, 0x0b, 0, kStreamZero, "");
  Raw(add("compressed_garbage", 0), 1, 0x06, 0, kStreamZero, "\xff\xff\xff\xff");
  Raw(add("tampered_frame", 0), 8, 0x06, 0, kStreamZero, "12345678");
  Raw(add("data_on_even_stream", 0), 0, 0x02, 0x04, kStreamEven, "");
  {
    InputWriter& w = add("trailers_from_client", 0);
    Open(w, 0, kMethodChat);
    Raw(w, 0, 0x03, 0x02, kStreamNewestCall, std::string(4, '\0'));
  }
  {
    // CallHeaders with a timeout and a key that breaks the rules.
    InputWriter& w = add("fuzzed_call_headers", 0);
    w.Op(kOpHeaders).U8(kMethodUnary).U32(1000000).U8(2);
    w.Str8("echo-initial").Str8("x").Str8("Bad Key!").Str8("");
    w.U8(0x06).Str16("");
  }
  return seeds;
}

}  // namespace
}  // namespace netstructer::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: connection_seeds DIRECTORY\n");
    return 2;
  }
  for (const auto& [name, writer] : netstructer::fuzz::MakeSeeds()) {
    const std::string path = std::string(argv[1]) + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << writer.bytes();
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
