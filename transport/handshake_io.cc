#include "netstructer/transport/handshake_io.h"

#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/socket.h"

namespace netstructer::transport {

namespace {
// What speaks first with these 4 bytes, when it is not us: a length that
// large is never a handshake frame, and a user who pointed a client at a
// web server (or a server's port at a browser) is told so.
const char* ForeignProtocol(const char prefix[4]) {
  const absl::string_view p(prefix, 4);
  if (p == "HTTP") return "HTTP (an HTTP server's response)";
  for (const char* method : {"GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI",
                             "PATC", "CONN", "PRI "}) {
    if (p == method) return "HTTP (an HTTP client's request)";
  }
  if ((p[0] == 0x15 || p[0] == 0x16) && p[1] == 0x03) {
    return "TLS (a TLS record)";
  }
  if (p == "SSH-") return "SSH";
  return nullptr;
}
}  // namespace

absl::StatusOr<std::optional<std::string>> ExactFrameReader::ReadSome(int fd) {
  for (;;) {
    char* dst;
    size_t want;
    if (prefix_bytes_ < kLengthPrefixBytes) {
      dst = prefix_ + prefix_bytes_;
      want = kLengthPrefixBytes - prefix_bytes_;
    } else {
      dst = body_.data() + body_bytes_;
      want = body_.size() - body_bytes_;
    }
    const ssize_t n = recv(fd, dst, want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
      return ErrnoStatus(absl::StatusCode::kUnavailable, errno,
                         "the connection failed during the handshake");
    }
    if (n == 0) {
      return absl::UnavailableError(
          "the peer closed the connection during the handshake");
    }
    if (prefix_bytes_ < kLengthPrefixBytes) {
      prefix_bytes_ += static_cast<size_t>(n);
      if (prefix_bytes_ == kLengthPrefixBytes) {
        const uint32_t length = big_endian::Load32(prefix_);
        if (length == 0 || length > kMaxHandshakeFrameBytes) {
          if (const char* foreign = ForeignProtocol(prefix_)) {
            return absl::DataLossError(absl::StrCat(
                "not a NetStructer handshake: the peer speaks ", foreign));
          }
          return absl::DataLossError(absl::StrCat(
              "not a NetStructer handshake (a frame of ", length, " bytes)"));
        }
        body_.assign(length, '\0');
        body_bytes_ = 0;
      }
      continue;
    }
    body_bytes_ += static_cast<size_t>(n);
    if (body_bytes_ == body_.size()) {
      prefix_bytes_ = 0;
      body_bytes_ = 0;
      std::string body;
      body.swap(body_);
      return std::optional<std::string>(std::move(body));
    }
  }
}

absl::StatusOr<std::string> ReadOneFrame(int fd, absl::Time deadline) {
  ExactFrameReader reader;
  for (;;) {
    absl::StatusOr<std::optional<std::string>> body = reader.ReadSome(fd);
    if (!body.ok()) return body.status();
    if (body->has_value()) return **body;
    if (!WaitReadable(fd, deadline)) {
      return absl::DeadlineExceededError("the handshake timed out");
    }
  }
}

}  // namespace netstructer::transport
