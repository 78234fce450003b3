// One message on its way out of a stream, cut into DATA-frame fragments
// (docs/PROTOCOL.md 8.1): its bytes are the 9-byte header (u64 body size B,
// kind), then the body, which the caller may give in two parts (`prefix`
// and `rest`: a typed message's name, then its protobuf bytes) so that
// neither is copied to be joined. The same cutting serves the Bridge stream
// and call streams (9.2); what differs between them (frame types, what a
// frame carries besides message bytes, when to wait for credit) stays with
// the caller.
//
// The first fragment always holds the whole header, as 8.1 requires. A
// fragment that lies inside one part of the body is a view of the caller's
// bytes, not a copy.
//
// Where it stands is a plain number (`sent()`), so a sender that stops for
// credit keeps that number and goes on later with a new OutgoingMessage over
// the same bytes and ResumeAt.
//
// Thread-compatible; it views the caller's bytes, which must outlive it.
#ifndef NETSTRUCTER_TRANSPORT_OUTGOING_MESSAGE_H_
#define NETSTRUCTER_TRANSPORT_OUTGOING_MESSAGE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "netstructer/transport/frame_format.h"

namespace netstructer::transport {

class OutgoingMessage {
 public:
  // No message: size() 0, done() at once (a call's frame that carries only
  // headers or trailers).
  OutgoingMessage() = default;
  // A message of kind `kind` whose body is `prefix` followed by `rest`.
  OutgoingMessage(uint8_t kind, absl::string_view prefix,
                  absl::string_view rest);

  // All its bytes, header included: 9 + B (0 for no message).
  uint64_t size() const { return size_; }
  uint64_t body_size() const {
    return size_ == 0 ? 0 : size_ - kMessageHeaderBytes;
  }
  // Bytes already taken by fragments.
  uint64_t sent() const { return sent_; }
  bool done() const { return sent_ == size_; }
  // Goes on from `sent`, a value sent() returned on an OutgoingMessage over
  // the same bytes.
  void ResumeAt(uint64_t sent);

  // The size of the next fragment for a frame with room for `budget`
  // message bytes: as much as is left up to `budget`, but never less than
  // the rest of the header (8.1: the first frame holds it whole).
  size_t NextSize(size_t budget) const;
  // Takes the next `n` bytes (at most what is left). When `out` is empty
  // and they lie inside one part of the body, returns a view of the
  // caller's bytes and leaves `out` alone; otherwise appends them to `out`
  // (after whatever the caller put there: a frame's prefix) and returns a
  // view of all of `out`.
  absl::string_view Take(size_t n, std::string* out);

 private:
  // Appends [from, from + n) of the message's bytes to `out`.
  void AppendRange(uint64_t from, size_t n, std::string* out) const;

  std::array<char, kMessageHeaderBytes> header_{};
  absl::string_view prefix_;
  absl::string_view rest_;
  uint64_t size_ = 0;
  uint64_t sent_ = 0;
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_OUTGOING_MESSAGE_H_
