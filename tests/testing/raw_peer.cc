#include "netstructer/tests/testing/raw_peer.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/handshake_io.h"
#include "netstructer/transport/handshake_messages.h"

namespace netstructer::testing {
namespace {

using transport::FernetKey;
using transport::FrameType;

// A plaintext HANDSHAKE frame, as the wire carries it.
std::string HandshakeFrame(transport::FrameSealer* plain,
                           absl::string_view payload) {
  std::string out;
  (void)plain->Seal(transport::kConnectionStreamId, FrameType::kHandshake, 0,
                    payload, false, absl::ToUnixSeconds(absl::Now()), &out);
  return out;
}

}  // namespace

std::unique_ptr<RawPeer> RawPeer::Connect(const std::string& address,
                                          const std::string& local_ip,
                                          int rcvbuf) {
  absl::StatusOr<transport::SocketAddress> to =
      transport::ResolveAddress(address);
  absl::StatusOr<transport::SocketAddress> from =
      transport::ResolveAddress(local_ip + ":0");
  if (!to.ok() || !from.ok()) return nullptr;
  const int fd = socket(to->storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  auto peer = std::unique_ptr<RawPeer>(new RawPeer(transport::Socket(fd)));
  if (rcvbuf > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&from->storage),
           from->length) != 0) {
    return nullptr;
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to->storage),
              to->length) != 0) {
    int error = errno;
    socklen_t length = sizeof(error);
    if (error != EINPROGRESS ||
        !transport::WaitWritable(fd, absl::Now() + absl::Seconds(5)) ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 ||
        error != 0) {
      return nullptr;
    }
  }
  return peer;
}

std::string RawPeer::ClientHelloFrame(const FernetKey& key) {
  absl::StatusOr<transport::ClientHandshake> hs =
      transport::ClientHandshake::Create(key);
  transport::FrameSealer plain = transport::FrameSealer::Insecure();
  return hs.ok() ? HandshakeFrame(&plain, hs->client_hello()) : "";
}

absl::Status RawPeer::Handshake(const FernetKey& key, absl::Time deadline) {
  NS_ASSIGN_OR_RETURN(transport::ClientHandshake hs,
                      transport::ClientHandshake::Create(key));
  transport::FrameSealer plain = transport::FrameSealer::Insecure();
  transport::FrameOpener plain_opener = transport::FrameOpener::Insecure();
  NS_RETURN_IF_ERROR(transport::WriteAll(
      fd(), HandshakeFrame(&plain, hs.client_hello()), deadline));
  NS_ASSIGN_OR_RETURN(std::string body,
                      transport::ReadOneFrame(fd(), deadline));
  NS_ASSIGN_OR_RETURN(transport::OpenedFrame hello, plain_opener.Open(body));
  NS_ASSIGN_OR_RETURN(std::optional<std::string> finished,
                      hs.OnServerFrame(hello.header, hello.payload));
  if (!finished.has_value() || hs.keys() == nullptr) {
    return absl::InternalError("not a Fernet handshake");
  }
  NS_RETURN_IF_ERROR(
      transport::WriteAll(fd(), HandshakeFrame(&plain, *finished), deadline));
  sealer_.emplace(transport::FrameSealer::Secure(hs.keys()->c2s));
  opener_.emplace(transport::FrameOpener::Secure(hs.keys()->s2c));
  session_fernet_ = std::make_unique<transport::Fernet>(hs.keys()->c2s);
  return absl::OkStatus();
}

absl::Status RawPeer::SendFrame(uint32_t stream, FrameType type, uint8_t flags,
                                absl::string_view payload,
                                absl::Time deadline) {
  std::string out;
  NS_RETURN_IF_ERROR(sealer_->Seal(stream, type, flags, payload, false,
                                   absl::ToUnixSeconds(absl::Now()), &out));
  return transport::WriteAll(fd(), out, deadline);
}

bool RawPeer::SendByte(char c) {
  return send(fd(), &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1 || errno == EAGAIN;
}

bool RawPeer::ReadAvailable() {
  char buf[16384];
  for (;;) {
    const ssize_t n = recv(fd(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      received_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return true;
    if (errno == EINTR) continue;
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

bool RawPeer::ReadUntilClosed(absl::Time deadline) {
  for (;;) {
    if (ReadAvailable()) return true;
    if (!transport::WaitReadable(fd(), deadline)) return false;
  }
}

absl::Status RawPeer::ReceivedGoAway() {
  transport::FrameDecoder decoder;
  decoder.Feed(received_);
  for (;;) {
    absl::StatusOr<std::optional<std::string>> body = decoder.Next();
    if (!body.ok() || !body->has_value()) break;
    absl::StatusOr<transport::OpenedFrame> frame = opener_->Open(**body);
    if (!frame.ok()) return frame.status();
    if (frame->header.type == FrameType::kGoAway && !frame->payload.empty()) {
      return absl::Status(static_cast<absl::StatusCode>(frame->payload[0]),
                          frame->payload.substr(1));
    }
  }
  return absl::NotFoundError("no GOAWAY received");
}

absl::Status RawPeer::ReadRefusal(absl::Time deadline) {
  NS_ASSIGN_OR_RETURN(std::string body,
                      transport::ReadOneFrame(fd(), deadline));
  transport::FrameOpener plain = transport::FrameOpener::Insecure();
  NS_ASSIGN_OR_RETURN(transport::OpenedFrame frame, plain.Open(body));
  if (frame.header.type != FrameType::kRefusal) {
    return absl::InternalError("a frame that is not a REFUSAL");
  }
  return transport::RefusalToStatus(frame.payload);
}

absl::Status RawPeer::SendPrecompressedFrame(uint32_t stream, FrameType type,
                                             uint8_t flags,
                                             absl::string_view payload,
                                             absl::Time deadline) {
  // The sealer never sets COMPRESSED itself on request: build the inner
  // frame by hand, with the sealer's next sequence number, and seal it with
  // the same session key (docs/PROTOCOL.md 3.1, 3.3).
  transport::FrameHeader header;
  header.sequence = sealer_->next_sequence();
  header.stream_id = stream;
  header.type = type;
  header.flags = static_cast<uint8_t>(flags | transport::kFlagCompressed);
  std::string inner = transport::EncodeFrameHeader(header);
  inner.append(payload.data(), payload.size());
  NS_ASSIGN_OR_RETURN(
      std::string token,
      session_fernet_->Seal(inner, absl::ToUnixSeconds(absl::Now())));
  std::string out(4, '\0');
  transport::big_endian::Store32(static_cast<uint32_t>(token.size()),
                                 out.data());
  out += token;
  return transport::WriteAll(fd(), out, deadline);
}

absl::Status RawPeer::SendRaw(absl::string_view bytes, absl::Time deadline) {
  return transport::WriteAll(fd(), bytes, deadline);
}

}  // namespace netstructer::testing
