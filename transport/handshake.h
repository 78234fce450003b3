// The NetStructer handshake (docs/PROTOCOL.md, section 7) as two pure state
// machines over frame payloads: no sockets, no clock, no threads. The
// connection feeds them the frames it opened and sends what they return:
//
//   client                                      server
//   ClientHandshake::Create(key)                ServerHandshake::Create(ring)
//   send HANDSHAKE client_hello()   ------->    OnClientFrame(hdr, payload)
//                                   <-------    send reply.frame (ServerHello
//   OnServerFrame(hdr, payload)                 or REFUSAL, then close)
//   send HANDSHAKE ClientFinished   ------->    OnClientFrame(hdr, payload)
//   (Fernet mode)                   <-------    REFUSAL, then close (only
//                                               if it was bad)
//   use keys()->c2s / s2c                       use keys()->s2c / c2s
//
// Handshake frames are plaintext inner frames (FrameSealer::Insecure /
// FrameOpener::Insecure), stream 0, flags 0, never compressed; each direction
// numbers them from 0. After the handshake each direction starts again at
// sequence 0: FrameSealer/FrameOpener::Secure with the session keys in
// Fernet mode, new insecure ones in insecure mode. The handshake deadline is
// the connection's (it owns the clock).
//
// Modes are configured, never negotiated: Create() makes a Fernet endpoint,
// CreateInsecure() an insecure one (benchmarks and local debugging only), and
// an endpoint refuses a peer of the other mode. There is no "empty key ring
// means insecure" shortcut, so a missing key can never silently disable
// encryption.
//
// Errors are absl::Status with the codes of docs/PROTOCOL.md 7.7. No message
// contains key material. Secrets (ephemeral private keys, the shared secret,
// PRK, finished keys) are wiped as soon as they are no longer needed; the
// session keys live in FernetKey values owned by the caller's copy.
#ifndef NETSTRUCTER_TRANSPORT_HANDSHAKE_H_
#define NETSTRUCTER_TRANSPORT_HANDSHAKE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/frame_header.h"
#include "netstructer/transport/handshake_crypto.h"
#include "netstructer/transport/handshake_format.h"
#include "netstructer/transport/handshake_messages.h"
#include "netstructer/transport/hello_replay_guard.h"

namespace netstructer::transport {

// The randomness of one side of one handshake. By default it comes from
// OpenSSL's CSPRNG; tests and the worked example inject fixed values.
// Thread-compatible value type; the private key wipes itself.
struct HandshakeRandom {
  Bytes32 nonce{};
  Secret32 x25519_private;

  // nonce from RAND_bytes, private key from RAND_priv_bytes. INTERNAL if the
  // CSPRNG fails.
  static absl::StatusOr<HandshakeRandom> Generate();
};

// The two session keys of a Fernet-mode connection: the client seals with
// c2s and opens with s2c; the server the other way round.
struct SessionKeys {
  FernetKey c2s;
  FernetKey s2c;
};

// A handshake frame to send: its type (HANDSHAKE or REFUSAL) and payload.
// The sender seals it on stream 0 with flags 0, compression off.
struct HandshakeFrame {
  FrameType type = FrameType::kHandshake;
  std::string payload;
};

// The server's key ring with each key's key id, computed once when the
// server starts. Value type (copyable); immutable after Create, so one
// instance can be read from any number of threads.
class HandshakeKeyRing {
 public:
  // `keys[0]` is the primary (it matters to hosts that are also clients, not
  // to the handshake). INVALID_ARGUMENT when `keys` is empty or two keys
  // share a key id (the same key twice); INTERNAL if OpenSSL fails.
  static absl::StatusOr<HandshakeKeyRing> Create(
      absl::Span<const FernetKey> keys);

  size_t size() const { return keys_.size(); }
  const FernetKey& key(size_t index) const { return keys_[index]; }
  const KeyId& key_id(size_t index) const { return ids_[index]; }
  const Secret32& binder_key(size_t index) const { return binder_keys_[index]; }

  // The index of the key with this key id. Compares with every key in
  // constant time (key ids are public, but this costs nothing).
  std::optional<size_t> Find(const KeyId& key_id) const;

 private:
  HandshakeKeyRing() = default;
  std::vector<FernetKey> keys_;
  std::vector<KeyId> ids_;
  std::vector<Secret32> binder_keys_;
};

// The client side of one handshake. Resource type (movable, not copyable);
// thread-compatible: confine it to the connection's thread.
class ClientHandshake {
 public:
  // A Fernet-mode client authenticating with `key` (its primary key). The
  // ClientHello carries the client's clock (`now_unix_seconds`, for tests
  // and the worked example; the real clock when unset) and the binder.
  // `random` is for tests and the worked example only. INTERNAL if the
  // CSPRNG or OpenSSL fails.
  static absl::StatusOr<ClientHandshake> Create(
      const FernetKey& key, const HandshakeRandom* random = nullptr,
      std::optional<int64_t> now_unix_seconds = std::nullopt);
  // An insecure-mode client (benchmarks and local debugging only).
  static absl::StatusOr<ClientHandshake> CreateInsecure(
      const HandshakeRandom* random = nullptr);

  ClientHandshake(ClientHandshake&&) noexcept = default;
  ClientHandshake& operator=(ClientHandshake&&) noexcept = default;
  ClientHandshake(const ClientHandshake&) = delete;
  ClientHandshake& operator=(const ClientHandshake&) = delete;

  // The payload of the client's first frame: HANDSHAKE, client sequence 0.
  const std::string& client_hello() const { return client_hello_; }

  // Feeds one frame from the server (its opened header and payload).
  //
  // The server's first frame: on success done() is true, and in Fernet mode
  // the result is the ClientFinished payload to send as a HANDSHAKE frame
  // (client sequence 1) before any secure frame; in insecure mode nullopt
  // (nothing to send). Errors (docs/PROTOCOL.md 7.7): a REFUSAL's status;
  // DATA_LOSS "malformed ServerHello: ..."; UNAUTHENTICATED "the server did
  // not prove knowledge of the key".
  //
  // After done() in Fernet mode, the server's first frame is either a Fernet
  // token under s2c (body byte 0 is 0x80) or, when the server rejected the
  // ClientFinished, a plaintext REFUSAL inner frame with server sequence 1
  // (body byte 0 is 0x00): open that one with the handshake's insecure opener
  // and pass it here to get its status.
  //
  // The first error is sticky and returned by every later call; any other
  // frame after done() is FAILED_PRECONDITION.
  absl::StatusOr<std::optional<std::string>> OnServerFrame(
      const FrameHeader& header, absl::string_view payload);

  HandshakeMode mode() const { return mode_; }
  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kFailed; }
  // The session keys: non-null once done() in Fernet mode, null otherwise.
  const SessionKeys* keys() const {
    return state_ == State::kDone && keys_.has_value() ? &*keys_ : nullptr;
  }

 private:
  enum class State { kAwaitServerHello, kDone, kFailed };
  explicit ClientHandshake(HandshakeMode mode) : mode_(mode) {}
  absl::StatusOr<std::optional<std::string>> OnServerHello(
      const FrameHeader& header, absl::string_view payload);
  absl::Status Fail(absl::Status status);

  HandshakeMode mode_;
  State state_ = State::kAwaitServerHello;
  std::optional<FernetKey> psk_;  // Fernet mode only.
  Secret32 private_key_;          // Wiped once the shared secret is known.
  std::string client_hello_;
  std::optional<SessionKeys> keys_;
  absl::Status status_;  // The sticky error once failed.
};

// The server side of one handshake. Resource type (movable, not copyable);
// thread-compatible: confine it to the connection's thread.
class ServerHandshake {
 public:
  // What to do after a client frame.
  struct Reply {
    // The frame to send now, if any: a ServerHello (HANDSHAKE) or a REFUSAL.
    std::optional<HandshakeFrame> frame;
    // OK: keep going (or complete()). Otherwise the handshake failed with
    // this status: send `frame` (the REFUSAL carrying it) if present, then
    // close the connection.
    absl::Status status;
  };

  // A Fernet-mode server accepting any key of `ring` (copied: a ring reloaded
  // during a handshake does not affect it). `guard` is the server's memory
  // of accepted ClientHellos, shared by its handshakes; unset, this
  // handshake gets one of its own on the real clock (freshness is checked,
  // replays of other handshakes are not). `random` is for tests only.
  static absl::StatusOr<ServerHandshake> Create(
      HandshakeKeyRing ring, const HandshakeRandom* random = nullptr,
      std::shared_ptr<HelloReplayGuard> guard = nullptr);
  // An insecure-mode server (benchmarks and local debugging only).
  static absl::StatusOr<ServerHandshake> CreateInsecure(
      const HandshakeRandom* random = nullptr);

  ServerHandshake(ServerHandshake&&) noexcept = default;
  ServerHandshake& operator=(ServerHandshake&&) noexcept = default;
  ServerHandshake(const ServerHandshake&) = delete;
  ServerHandshake& operator=(const ServerHandshake&) = delete;

  // Feeds one frame from the client (its opened header and payload): first
  // the ClientHello, then (Fernet mode) the ClientFinished. Refusals and
  // their codes: docs/PROTOCOL.md 7.7 (INVALID_ARGUMENT malformed,
  // FAILED_PRECONDITION mode mismatch or a version 1 client, UNAUTHENTICATED
  // unknown key id, bad binder, stale or replayed hello, or bad
  // ClientFinished). The binder, freshness and replay checks come before
  // any Diffie-Hellman. After a failure every call returns the same status and
  // no frame; a call after complete() is FAILED_PRECONDITION, no frame.
  Reply OnClientFrame(const FrameHeader& header, absl::string_view payload);

  HandshakeMode mode() const { return mode_; }
  bool complete() const { return state_ == State::kComplete; }
  bool failed() const { return state_ == State::kFailed; }
  // The session keys: non-null once complete() in Fernet mode.
  const SessionKeys* keys() const {
    return state_ == State::kComplete && keys_.has_value() ? &*keys_ : nullptr;
  }
  // The ring index of the client's key (for logs and rotation): set once the
  // ClientHello was accepted in Fernet mode.
  std::optional<size_t> key_index() const { return key_index_; }

 private:
  enum class State {
    kAwaitClientHello,
    kAwaitClientFinished,
    kComplete,
    kFailed
  };
  explicit ServerHandshake(HandshakeMode mode) : mode_(mode) {}
  Reply OnClientHello(const FrameHeader& header, absl::string_view payload);
  Reply OnClientFinished(const FrameHeader& header, absl::string_view payload);
  Reply Refuse(absl::Status status);

  HandshakeMode mode_;
  State state_ = State::kAwaitClientHello;
  std::optional<HandshakeKeyRing> ring_;  // Fernet mode only.
  std::shared_ptr<HelloReplayGuard> guard_;  // Fernet mode only.
  Secret32 private_key_;  // Wiped once the shared secret is known.
  Bytes32 nonce_{};
  Secret32 expected_client_finished_;
  std::optional<SessionKeys> keys_;  // Exposed only once complete.
  std::optional<size_t> key_index_;
  absl::Status status_;  // The sticky error once failed.
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_HANDSHAKE_H_
