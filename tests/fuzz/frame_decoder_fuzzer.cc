// Fuzzes FrameDecoder (and DecodeFrameHeader on every frame it yields).
//
// Input: byte 0 picks the frame limit (0xFF: the default, else 1 + 64 * b),
// byte 1 picks how the rest, the stream, is cut into Feed() calls (0: in one
// piece; else each piece is 1..b+1 bytes, its size taken from the stream
// byte where it starts). Aborts unless:
//  * every frame is 1..limit bytes and re-encoding the frames reproduces the
//    stream's prefix they came from, byte for byte;
//  * with the frames drained, buffered_bytes() is below 4 + limit;
//  * an error is DATA_LOSS for a zero length or RESOURCE_EXHAUSTED for one
//    over the limit, found exactly where the frames end, and sticky;
//  * without an error, Finish() is OK exactly when the stream ended between
//    frames, DATA_LOSS otherwise;
//  * a header that decodes re-encodes to the same 16 bytes; one that does
//    not is DATA_LOSS.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/frame_header.h"

namespace netstructer::transport {
namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckHeader(absl::string_view body) {
  absl::StatusOr<FrameHeader> header = DecodeFrameHeader(body);
  if (header.ok()) {
    Check(EncodeFrameHeader(*header) == body.substr(0, kFrameHeaderBytes));
  } else {
    Check(header.status().code() == absl::StatusCode::kDataLoss);
  }
}

void Run(const uint8_t* data, size_t size) {
  if (size < 2) return;
  FrameDecoderOptions options;
  if (data[0] != 0xFF) options.max_frame_bytes = 1 + size_t{data[0]} * 64;
  const uint8_t cut = data[1];
  const absl::string_view stream(reinterpret_cast<const char*>(data) + 2,
                                 size - 2);

  FrameDecoder decoder(options);
  const size_t limit = decoder.max_frame_bytes();
  std::string reencoded;
  absl::Status error;
  for (size_t pos = 0; pos < stream.size();) {
    size_t n = stream.size() - pos;
    if (cut != 0) {
      n = std::min<size_t>(
          n, 1 + static_cast<uint8_t>(stream[pos]) % (size_t{cut} + 1));
    }
    decoder.Feed(stream.substr(pos, n));
    pos += n;
    while (error.ok()) {
      absl::StatusOr<std::optional<std::string>> next = decoder.Next();
      if (!next.ok()) {
        error = next.status();
        break;
      }
      if (!next->has_value()) break;
      const std::string& body = **next;
      Check(!body.empty() && body.size() <= limit);
      Check(AppendFrame(body, &reencoded).ok());
      CheckHeader(body);
    }
    Check(decoder.buffered_bytes() < kLengthPrefixBytes + limit);
    if (!error.ok()) Check(decoder.buffered_bytes() == 0);
  }

  Check(reencoded.size() <= stream.size());
  Check(stream.substr(0, reencoded.size()) == reencoded);
  if (error.ok()) {
    const absl::Status finish = decoder.Finish();
    Check(finish.ok() == (reencoded.size() == stream.size()));
    Check(finish.ok() || finish.code() == absl::StatusCode::kDataLoss);
    return;
  }
  // The error is the length prefix right after the last good frame.
  Check(stream.size() >= reencoded.size() + kLengthPrefixBytes);
  const uint32_t length = big_endian::Load32(stream.data() + reencoded.size());
  if (length == 0) {
    Check(error.code() == absl::StatusCode::kDataLoss);
  } else {
    Check(length > limit);
    Check(error.code() == absl::StatusCode::kResourceExhausted);
  }
  // Sticky.
  decoder.Feed(stream);
  Check(decoder.buffered_bytes() == 0);
  Check(decoder.Next().status() == error);
  Check(decoder.Finish() == error);
}

}  // namespace
}  // namespace netstructer::transport

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  netstructer::transport::Run(data, size);
  return 0;
}
