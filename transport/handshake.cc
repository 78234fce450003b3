#include "netstructer/transport/handshake.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "netstructer/proto/status_macros.h"

namespace netstructer::transport {
namespace {

// The texts of docs/PROTOCOL.md 7.7, shared by both sides and the tests.
constexpr char kKeyNotAccepted[] = "the server did not accept this key";
constexpr char kServerNotProven[] =
    "the server did not prove knowledge of the key";
constexpr char kServerRequiresFernet[] =
    "this server requires Fernet encryption";
constexpr char kServerIsInsecure[] = "this server runs in insecure mode";

// Handshake frames travel on stream 0 without flags (PROTOCOL.md 7.1).
bool IsConnectionFrameWithoutFlags(const FrameHeader& header) {
  return header.stream_id == kConnectionStreamId && header.flags == 0;
}

absl::Status InternalFailure() {
  // OpenSSL's own failure: nothing the peer did. Kept vague on the wire.
  return absl::InternalError("the handshake failed inside the server");
}

absl::StatusOr<SessionKeys> SessionKeysOf(const KeySchedule& schedule) {
  NS_ASSIGN_OR_RETURN(FernetKey c2s, FernetKey::FromRaw(schedule.c2s.view()));
  NS_ASSIGN_OR_RETURN(FernetKey s2c, FernetKey::FromRaw(schedule.s2c.view()));
  return SessionKeys{std::move(c2s), std::move(s2c)};
}

const char* ModeName(HandshakeMode mode) {
  return mode == HandshakeMode::kFernet ? "Fernet" : "insecure";
}

}  // namespace

// ---- HandshakeRandom --------------------------------------------------------

absl::StatusOr<HandshakeRandom> HandshakeRandom::Generate() {
  HandshakeRandom random;
  if (RAND_bytes(random.nonce.data(), static_cast<int>(random.nonce.size())) !=
          1 ||
      RAND_priv_bytes(random.x25519_private.data(),
                      static_cast<int>(random.x25519_private.size())) != 1) {
    return absl::InternalError("the CSPRNG (RAND_bytes) failed");
  }
  return random;
}

// ---- HandshakeKeyRing -------------------------------------------------------

absl::StatusOr<HandshakeKeyRing> HandshakeKeyRing::Create(
    absl::Span<const FernetKey> keys) {
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "a Fernet server needs at least one key (use the insecure mode "
        "explicitly if that is what you want)");
  }
  HandshakeKeyRing ring;
  for (size_t i = 0; i < keys.size(); ++i) {
    NS_ASSIGN_OR_RETURN(KeyId id, KeyIdOf(keys[i]));
    if (ring.Find(id).has_value()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "keys %d and %d of the key ring are the same key (same key id); "
          "remove one",
          *ring.Find(id) + 1, i + 1));
    }
    NS_ASSIGN_OR_RETURN(Secret32 binder_key, BinderKeyOf(keys[i]));
    ring.keys_.push_back(keys[i]);
    ring.ids_.push_back(id);
    ring.binder_keys_.push_back(binder_key);
  }
  return ring;
}

std::optional<size_t> HandshakeKeyRing::Find(const KeyId& key_id) const {
  std::optional<size_t> found;
  for (size_t i = 0; i < ids_.size(); ++i) {
    // Every entry is compared; the first match wins (Create forbids two).
    const bool match =
        CRYPTO_memcmp(ids_[i].data(), key_id.data(), kKeyIdBytes) == 0;
    if (match && !found.has_value()) found = i;
  }
  return found;
}

// ---- ClientHandshake --------------------------------------------------------

absl::StatusOr<ClientHandshake> ClientHandshake::Create(
    const FernetKey& key, const HandshakeRandom* random,
    std::optional<int64_t> now_unix_seconds) {
  ClientHandshake hs(HandshakeMode::kFernet);
  std::optional<HandshakeRandom> generated;
  if (random == nullptr) {
    NS_ASSIGN_OR_RETURN(generated, HandshakeRandom::Generate());
    random = &*generated;
  }
  hs.psk_ = key;
  hs.private_key_ = random->x25519_private;
  ClientHello hello;
  hello.mode = HandshakeMode::kFernet;
  NS_ASSIGN_OR_RETURN(hello.key_id, KeyIdOf(key));
  hello.nonce = random->nonce;
  NS_ASSIGN_OR_RETURN(hello.public_key, X25519PublicKey(hs.private_key_));
  const int64_t now = now_unix_seconds.has_value()
                          ? *now_unix_seconds
                          : absl::ToUnixSeconds(absl::Now());
  hello.time_unix_seconds = now > 0 ? static_cast<uint64_t>(now) : 0;
  // The binder covers everything before it (PROTOCOL.md 7.2, 7.6).
  NS_ASSIGN_OR_RETURN(Secret32 binder_key, BinderKeyOf(key));
  NS_ASSIGN_OR_RETURN(hs.client_hello_, EncodeBoundClientHello(hello, binder_key));
  return hs;
}

absl::StatusOr<ClientHandshake> ClientHandshake::CreateInsecure(
    const HandshakeRandom* random) {
  ClientHandshake hs(HandshakeMode::kInsecure);
  std::optional<HandshakeRandom> generated;
  if (random == nullptr) {
    NS_ASSIGN_OR_RETURN(generated, HandshakeRandom::Generate());
    random = &*generated;
  }
  ClientHello hello;
  hello.mode = HandshakeMode::kInsecure;
  hello.nonce = random->nonce;  // Key id and public key stay zero.
  hs.client_hello_ = EncodeClientHello(hello);
  return hs;
}

absl::Status ClientHandshake::Fail(absl::Status status) {
  state_ = State::kFailed;
  status_ = status;
  private_key_.Wipe();
  keys_.reset();
  return status;
}

absl::StatusOr<std::optional<std::string>> ClientHandshake::OnServerFrame(
    const FrameHeader& header, absl::string_view payload) {
  switch (state_) {
    case State::kFailed:
      return status_;
    case State::kAwaitServerHello:
      return OnServerHello(header, payload);
    case State::kDone:
      // The one frame that may still arrive in plaintext: the server's
      // refusal of our ClientFinished.
      if (mode_ == HandshakeMode::kFernet &&
          header.type == FrameType::kRefusal &&
          IsConnectionFrameWithoutFlags(header)) {
        return Fail(RefusalToStatus(payload));
      }
      return absl::FailedPreconditionError(
          "the handshake is done: frames go to the session's opener");
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<std::optional<std::string>> ClientHandshake::OnServerHello(
    const FrameHeader& header, absl::string_view payload) {
  if (!IsConnectionFrameWithoutFlags(header) ||
      (header.type != FrameType::kHandshake &&
       header.type != FrameType::kRefusal)) {
    return Fail(absl::DataLossError(
        "malformed ServerHello: expected a HANDSHAKE or REFUSAL frame on "
        "stream 0 without flags"));
  }
  if (header.type == FrameType::kRefusal) {
    return Fail(RefusalToStatus(payload));
  }
  absl::StatusOr<ServerHello> hello = DecodeServerHello(payload);
  if (!hello.ok()) return Fail(hello.status());
  if (hello->mode != mode_) {
    // A conforming server refuses a mode it does not run; a ServerHello in
    // the other mode is a downgrade attempt or a broken server.
    return Fail(absl::DataLossError(absl::StrFormat(
        "malformed ServerHello: the server answered in %s mode, this client "
        "runs in %s mode",
        ModeName(hello->mode), ModeName(mode_))));
  }
  if (mode_ == HandshakeMode::kInsecure) {
    state_ = State::kDone;
    return std::optional<std::string>();
  }

  absl::StatusOr<Secret32> shared =
      X25519SharedSecret(private_key_, hello->public_key);
  private_key_.Wipe();  // Forward secrecy: the ephemeral key is used once.
  if (!shared.ok()) {
    return Fail(absl::DataLossError(
        "malformed ServerHello: invalid X25519 public key"));
  }
  absl::StatusOr<KeySchedule> schedule =
      DeriveKeySchedule(*psk_, *shared, client_hello_,
                        payload.substr(0, kServerHelloFinishedOffset));
  if (!schedule.ok()) return Fail(schedule.status());
  if (!ConstantTimeEquals(AsView(schedule->server_finished),
                          AsView(hello->finished))) {
    return Fail(absl::UnauthenticatedError(kServerNotProven));
  }
  absl::StatusOr<SessionKeys> keys = SessionKeysOf(*schedule);
  if (!keys.ok()) return Fail(keys.status());
  keys_ = *std::move(keys);
  psk_.reset();
  state_ = State::kDone;
  return std::optional<std::string>(
      std::string(AsView(schedule->client_finished)));
}

// ---- ServerHandshake --------------------------------------------------------

absl::StatusOr<ServerHandshake> ServerHandshake::Create(
    HandshakeKeyRing ring, const HandshakeRandom* random,
    std::shared_ptr<HelloReplayGuard> guard) {
  ServerHandshake hs(HandshakeMode::kFernet);
  std::optional<HandshakeRandom> generated;
  if (random == nullptr) {
    NS_ASSIGN_OR_RETURN(generated, HandshakeRandom::Generate());
    random = &*generated;
  }
  hs.ring_ = std::move(ring);
  hs.guard_ = guard != nullptr ? std::move(guard)
                               : std::make_shared<HelloReplayGuard>(nullptr, 1);
  hs.private_key_ = random->x25519_private;
  hs.nonce_ = random->nonce;
  return hs;
}

absl::StatusOr<ServerHandshake> ServerHandshake::CreateInsecure(
    const HandshakeRandom* random) {
  ServerHandshake hs(HandshakeMode::kInsecure);
  std::optional<HandshakeRandom> generated;
  if (random == nullptr) {
    NS_ASSIGN_OR_RETURN(generated, HandshakeRandom::Generate());
    random = &*generated;
  }
  hs.nonce_ = random->nonce;
  return hs;
}

ServerHandshake::Reply ServerHandshake::Refuse(absl::Status status) {
  state_ = State::kFailed;
  status_ = status;
  private_key_.Wipe();
  expected_client_finished_.Wipe();
  keys_.reset();
  Reply reply;
  reply.frame = HandshakeFrame{FrameType::kRefusal, EncodeRefusal(status)};
  reply.status = std::move(status);
  return reply;
}

ServerHandshake::Reply ServerHandshake::OnClientFrame(
    const FrameHeader& header, absl::string_view payload) {
  switch (state_) {
    case State::kAwaitClientHello:
      return OnClientHello(header, payload);
    case State::kAwaitClientFinished:
      return OnClientFinished(header, payload);
    case State::kFailed:
      return Reply{std::nullopt, status_};
    case State::kComplete:
      return Reply{std::nullopt,
                   absl::FailedPreconditionError(
                       "the handshake is complete: frames go to the "
                       "session's opener")};
  }
  return Reply{std::nullopt, absl::InternalError("unreachable")};
}

ServerHandshake::Reply ServerHandshake::OnClientHello(
    const FrameHeader& header, absl::string_view payload) {
  if (!IsConnectionFrameWithoutFlags(header) ||
      header.type != FrameType::kHandshake) {
    return Refuse(absl::InvalidArgumentError(
        "malformed handshake: expected a HANDSHAKE frame on stream 0 without "
        "flags"));
  }
  absl::StatusOr<ClientHello> hello = DecodeClientHello(payload);
  if (!hello.ok()) return Refuse(hello.status());
  if (hello->mode != mode_) {
    return Refuse(absl::FailedPreconditionError(mode_ == HandshakeMode::kFernet
                                                    ? kServerRequiresFernet
                                                    : kServerIsInsecure));
  }
  ServerHello reply_hello;
  reply_hello.mode = mode_;
  reply_hello.nonce = nonce_;
  if (mode_ == HandshakeMode::kInsecure) {
    state_ = State::kComplete;
    return Reply{
        HandshakeFrame{FrameType::kHandshake, EncodeServerHello(reply_hello)},
        absl::OkStatus()};
  }

  std::optional<size_t> index = ring_->Find(hello->key_id);
  if (!index.has_value()) {
    return Refuse(absl::UnauthenticatedError(kKeyNotAccepted));
  }
  // Before any Diffie-Hellman: the binder proves the PSK (a sniffed key id
  // is not enough; the same refusal as an unknown key), then freshness and
  // replay. A flood of forged or replayed hellos costs one HMAC each.
  absl::StatusOr<Bytes32> binder = ComputeBinder(
      ring_->binder_key(*index), payload.substr(0, kClientHelloBinderOffset));
  if (!binder.ok()) return Refuse(InternalFailure());
  if (!ConstantTimeEquals(AsView(*binder), AsView(hello->binder))) {
    return Refuse(absl::UnauthenticatedError(kKeyNotAccepted));
  }
  if (absl::Status fresh = guard_->Accept(hello->time_unix_seconds, hello->nonce);
      !fresh.ok()) {
    return Refuse(std::move(fresh));
  }
  absl::StatusOr<Bytes32> public_key = X25519PublicKey(private_key_);
  if (!public_key.ok()) return Refuse(InternalFailure());
  absl::StatusOr<Secret32> shared =
      X25519SharedSecret(private_key_, hello->public_key);
  private_key_.Wipe();  // Forward secrecy: the ephemeral key is used once.
  if (!shared.ok()) {
    return Refuse(absl::InvalidArgumentError(
        "malformed handshake: invalid X25519 public key"));
  }
  reply_hello.public_key = *public_key;
  std::string server_hello = EncodeServerHello(reply_hello);
  absl::StatusOr<KeySchedule> schedule = DeriveKeySchedule(
      ring_->key(*index), *shared, payload,
      absl::string_view(server_hello).substr(0, kServerHelloFinishedOffset));
  if (!schedule.ok()) return Refuse(InternalFailure());
  absl::StatusOr<SessionKeys> keys = SessionKeysOf(*schedule);
  if (!keys.ok()) return Refuse(InternalFailure());
  std::copy(schedule->server_finished.begin(), schedule->server_finished.end(),
            server_hello.begin() + kServerHelloFinishedOffset);
  std::copy(schedule->client_finished.begin(), schedule->client_finished.end(),
            expected_client_finished_.data());
  keys_ = *std::move(keys);
  key_index_ = index;
  ring_.reset();  // Only the chosen key mattered, and the schedule used it.
  guard_.reset();
  state_ = State::kAwaitClientFinished;
  return Reply{HandshakeFrame{FrameType::kHandshake, std::move(server_hello)},
               absl::OkStatus()};
}

ServerHandshake::Reply ServerHandshake::OnClientFinished(
    const FrameHeader& header, absl::string_view payload) {
  if (!IsConnectionFrameWithoutFlags(header) ||
      header.type != FrameType::kHandshake) {
    return Refuse(absl::InvalidArgumentError(
        "malformed handshake: expected a HANDSHAKE frame on stream 0 without "
        "flags"));
  }
  if (payload.size() != kClientFinishedBytes) {
    return Refuse(absl::InvalidArgumentError(absl::StrFormat(
        "malformed handshake: a ClientFinished has %d bytes, got %d",
        kClientFinishedBytes, payload.size())));
  }
  if (!ConstantTimeEquals(expected_client_finished_.view(), payload)) {
    return Refuse(absl::UnauthenticatedError(kKeyNotAccepted));
  }
  expected_client_finished_.Wipe();
  state_ = State::kComplete;
  return Reply{std::nullopt, absl::OkStatus()};
}

}  // namespace netstructer::transport
