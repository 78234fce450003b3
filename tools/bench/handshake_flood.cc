#include "netstructer/tools/bench/handshake_flood.h"

#include <utility>

#include "absl/time/clock.h"
#include "netstructer/tools/bench/measure.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/handshake_crypto.h"
#include "netstructer/transport/handshake_io.h"
#include "netstructer/transport/handshake_messages.h"
#include "netstructer/transport/socket.h"

namespace netstructer::bench {

absl::StatusOr<std::unique_ptr<HandshakeFlood>> HandshakeFlood::Start(
    const std::string& address, const transport::FernetKey& key,
    int hellos_per_second, int threads) {
  // The hello "seen on the wire" gives the key id; the binder is forged.
  absl::StatusOr<transport::ClientHandshake> real =
      transport::ClientHandshake::Create(key);
  if (!real.ok()) return real.status();
  absl::StatusOr<transport::ClientHello> seen =
      transport::DecodeClientHello(real->client_hello());
  if (!seen.ok()) return seen.status();
  absl::StatusOr<transport::FernetKey> other = transport::FernetKey::Generate();
  if (!other.ok()) return other.status();
  absl::StatusOr<transport::Secret32> forged_key = transport::BinderKeyOf(*other);
  if (!forged_key.ok()) return forged_key.status();
  absl::StatusOr<std::string> hello =
      transport::EncodeBoundClientHello(*seen, *forged_key);
  if (!hello.ok()) return hello.status();
  std::unique_ptr<HandshakeFlood> flood(new HandshakeFlood);
  flood->address_ = address;
  transport::FrameSealer plain = transport::FrameSealer::Insecure();
  if (absl::Status s = plain.Seal(transport::kConnectionStreamId,
                                  transport::FrameType::kHandshake, 0, *hello,
                                  false, 0, &flood->frame_);
      !s.ok()) {
    return s;
  }
  flood->started_ = Clock::now();
  for (int t = 0; t < threads; ++t) {
    flood->threads_.emplace_back(
        [f = flood.get(), t, threads, hellos_per_second] {
          f->Run(t, threads, hellos_per_second);
        });
  }
  return flood;
}

void HandshakeFlood::Run(int thread, int threads, int hellos_per_second) {
  absl::StatusOr<transport::SocketAddress> to =
      transport::ResolveAddress(address_);
  if (!to.ok()) {
    other_.fetch_add(1);
    return;
  }
  // Each thread sends every threads-th hello of one schedule: hello k at
  // started + k / rate. A slot already past is skipped, not caught up (a
  // paced flood, never a burst after a stall).
  const double interval = 1.0 / hellos_per_second;
  for (uint64_t k = thread; !stop_.load(); k += threads) {
    const Clock::time_point due = After(started_, k * interval);
    if (Clock::now() > After(due, interval * threads)) continue;
    std::this_thread::sleep_until(due);
    if (stop_.load()) break;
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    absl::StatusOr<transport::Socket> socket =
        transport::ConnectTcp(*to, deadline);
    if (!socket.ok() || !transport::WriteAll(socket->fd(), frame_, deadline).ok()) {
      other_.fetch_add(1);
      continue;
    }
    sent_.fetch_add(1);
    absl::StatusOr<std::string> body =
        transport::ReadOneFrame(socket->fd(), deadline);
    transport::FrameOpener plain = transport::FrameOpener::Insecure();
    absl::StatusOr<transport::OpenedFrame> frame =
        body.ok() ? plain.Open(*body)
                  : absl::StatusOr<transport::OpenedFrame>(body.status());
    // Refused for its binder (UNAUTHENTICATED), after the HMAC; a refusal
    // for capacity (the server full of handshakes) does not count.
    if (frame.ok() && frame->header.type == transport::FrameType::kRefusal &&
        transport::RefusalToStatus(frame->payload).code() ==
            absl::StatusCode::kUnauthenticated) {
      refused_.fetch_add(1);
    } else {
      other_.fetch_add(1);
    }
  }
}

HandshakeFlood::Counts HandshakeFlood::Stop() {
  if (stopped_) return counts_;
  stopped_ = true;
  stop_.store(true);
  for (std::thread& t : threads_) t.join();
  counts_.sent = sent_.load();
  counts_.refused = refused_.load();
  counts_.other = other_.load();
  counts_.seconds = Seconds(Clock::now() - started_);
  return counts_;
}

HandshakeFlood::~HandshakeFlood() { (void)Stop(); }

}  // namespace netstructer::bench
