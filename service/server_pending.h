// A connection between accept and the end of its handshake, shared by the
// files of netstructer::Server (server.cc: sessions and shutdown;
// server_handshakes.cc: accepting and handshakes). Private to them.
#ifndef NETSTRUCTER_SERVICE_SERVER_PENDING_H_
#define NETSTRUCTER_SERVICE_SERVER_PENDING_H_

#include <memory>
#include <optional>

#include "netstructer/service/accept_policy.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/event_loop.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/handshake_io.h"
#include "netstructer/transport/socket.h"

namespace netstructer {

// A connection between accept and the end of its handshake.
struct Server::Pending {
  transport::Socket socket;
  service::Admission admission;
  std::optional<transport::ServerHandshake> handshake;
  // The ring the handshake uses (null when insecure): its key ids.
  std::shared_ptr<const transport::HandshakeKeyRing> ring;
  transport::ExactFrameReader reader;
  transport::FrameSealer sealer = transport::FrameSealer::Insecure();
  transport::FrameOpener opener = transport::FrameOpener::Handshake();
  transport::EventLoop::TimerId timer = 0;
  uint64_t order = 0;  // Key in pending_by_age_.
};

}  // namespace netstructer

#endif  // NETSTRUCTER_SERVICE_SERVER_PENDING_H_
