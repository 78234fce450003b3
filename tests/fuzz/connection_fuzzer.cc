// Fuzzes a whole server connection after a valid handshake: a real Server
// on 127.0.0.1 (Bridge frame dispatch, RpcConnection, RpcDispatcher, an echo
// service) and, as its client, this harness, which holds the key. The input
// (connection_fuzz_input.h) is a script of operations: well-formed calls,
// Bridge messages, pings and window updates, and hostile frames of any
// type, flags, stream id and payload, all sealed with the session's c2s key
// so they pass authentication; some raw bytes too.
//
// One execution: connect, run the client handshake, take the server's
// session (Server::Accept), write the script's frames while reading and
// checking every server frame, end the connection (by default GOAWAY then
// half-close), wait (bounded) for the server to close it and for every
// handler to return. Servers (one per configuration byte) live for the
// whole process; each execution's connection is gone when it returns.
//
// Aborts unless:
//  * every byte the server sends is a well-formed frame sealed with s2c and
//    in sequence; frames only on stream 0 or on calls this client opened
//    with HEADERS; nothing after the server's GOAWAY; well-formed PING
//    acknowledgements (the payloads of our pings, in order), WINDOW_UPDATE,
//    GOAWAY, HEADERS (before any message), messages (8.1 layout, within the
//    call's window), TRAILERS (END_STREAM, code <= 16, then nothing but
//    CANCEL or WINDOW_UPDATE) and CANCEL payloads;
//  * the server closes the connection within 10 s of our end of it, with a
//    documented status: DATA_LOSS, UNAVAILABLE, RESOURCE_EXHAUSTED,
//    OUT_OF_RANGE or what a GOAWAY we sent carried; every handler returns
//    and the session is removed within 10 s (no hang, no thread or call
//    left behind; leaks are ASan's);
//  * when the script is a valid call sequence (no raw frames, garbage,
//    GOAWAY or abrupt close), the end is graceful (OUT_OF_RANGE, the
//    server's GOAWAY(OK)), every ping is answered, every call the client
//    finished gets its exact result (echo replies, sums, ranges, the
//    handler's status; UNIMPLEMENTED for unknown methods;
//    RESOURCE_EXHAUSTED for a request over the limit or past the stream
//    cap; DEADLINE_EXCEEDED allowed with a timeout), and the session's
//    RecvRaw returns the Bridge messages sent, in order.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "netstructer/rpc/call_wire.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/fuzz/connection_fuzz_input.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/compression.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/frame_header.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/handshake_io.h"
#include "netstructer/transport/socket.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::fuzz {
namespace {

using test::rpc::EchoReply;
using test::rpc::EchoRequest;
using transport::FrameType;
namespace big_endian = transport::big_endian;

// Every wait of an execution: far above what a loaded two-core machine
// needs, far below libFuzzer's own timeout.
constexpr absl::Duration kBound = absl::Seconds(10);
constexpr uint32_t kMaxIncrement = 0x7fffffff;

[[noreturn]] void Die(absl::string_view what) {
  std::fprintf(stderr, "connection_fuzzer: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::abort();
}

void Check(bool condition, absl::string_view what) {
  if (!condition) Die(what);
}

// Waits (polling: these are another thread's effects) until `done`.
bool WaitFor(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + kBound;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Microseconds(50));
  }
  return true;
}

// ---- The server ------------------------------------------------------------

// Echo (tests/rpc/echo.proto) without sleeps: handlers never block on
// anything but the call itself.
class FuzzEcho final : public test::rpc::Echo::Service {
 public:
  absl::Status Unary(ServerContext* context, const EchoRequest* request,
                     EchoReply* reply) override {
    for (const auto& [key, value] : context->client_metadata()) {
      if (key == "echo-initial") {
        (void)context->AddInitialMetadata("initial", value);
      }
      if (key == "echo-trailing") {
        (void)context->AddTrailingMetadata("trailing", value);
      }
    }
    const uint32_t code = static_cast<uint32_t>(request->fail_code()) % 17;
    if (code != 0) {
      return absl::Status(static_cast<absl::StatusCode>(code), request->text());
    }
    reply->set_text(request->text());
    reply->set_n(request->n());
    return absl::OkStatus();
  }

  absl::Status Sum(ServerContext* context, ServerReader<EchoRequest>* reader,
                   EchoReply* reply) override {
    int64_t sum = 0;
    int64_t count = 0;
    EchoRequest request;
    for (;;) {
      absl::StatusOr<bool> more = reader->Read(&request);
      if (!more.ok()) return more.status();
      if (!*more) break;
      sum += request.n();
      ++count;
    }
    reply->set_n(sum);
    reply->set_text(std::to_string(count));
    return absl::OkStatus();
  }

  absl::Status Range(ServerContext* context, const EchoRequest* request,
                     ServerWriter<EchoReply>* writer) override {
    EchoReply reply;
    reply.set_text(request->text());
    for (int64_t i = 0; i < RangeCount(*request); ++i) {
      reply.set_n(i);
      if (absl::Status s = writer->Write(reply); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status Chat(
      ServerContext* context,
      ServerReaderWriter<EchoReply, EchoRequest>* stream) override {
    EchoRequest request;
    EchoReply reply;
    for (;;) {
      absl::StatusOr<bool> more = stream->Read(&request);
      if (!more.ok()) return more.status();
      if (!*more) return absl::OkStatus();
      reply.set_text(request.text());
      reply.set_n(request.n());
      if (absl::Status s = stream->Write(reply); !s.ok()) return s;
    }
  }

  static int64_t RangeCount(const EchoRequest& request) {
    return static_cast<int64_t>(static_cast<uint64_t>(request.n()) % 33);
  }
};

// Counts the calls whose handlers have not finished (OnFinish runs after
// the trailers, as the last step of every call that was accepted).
class CallCounter final : public ServerInterceptor {
 public:
  absl::Status OnCall(ServerContext* context) override {
    running.fetch_add(1);
    return absl::OkStatus();
  }
  void OnFinish(ServerContext* context, const absl::Status& status) override {
    running.fetch_sub(1);
  }
  std::atomic<int> running{0};
};

struct FuzzServer {
  FuzzEcho service;
  std::shared_ptr<CallCounter> counter = std::make_shared<CallCounter>();
  ServerOptions options;
  std::unique_ptr<Server> server;  // Declared last: destroyed first.
  transport::SocketAddress address;
};

const transport::FernetKey& Key() {
  static const transport::FernetKey* key =
      new transport::FernetKey(transport::FernetKey::Generate().value());
  return *key;
}

std::unique_ptr<FuzzServer> StartServer(uint8_t config) {
  auto s = std::make_unique<FuzzServer>();
  ServerOptions& o = s->options;
  if ((config & kConfigInsecure) != 0) {
    o.insecure = true;
  } else {
    o.keys = {Key(), transport::FernetKey::Generate().value()};
  }
  // One client connecting thousands of times a second.
  o.policy.max_sessions_per_ip = 0;
  o.policy.max_sessions_total = 0;
  o.policy.new_connections_per_ip_per_second = 0;
  o.rpc.interceptors = {s->counter};
  // Without the pool bit, every unary handler inline (the I/O path).
  o.rpc.handler_threads = (config & kConfigPool) != 0 ? 2 : 0;
  if ((config & kConfigSmallLimits) != 0) {
    o.bridge.max_message_bytes = 4096;
    o.bridge.memory_threshold_bytes = 512;
    o.bridge.max_inbox_bytes = 8192;
    o.bridge.fragment_bytes = 1024;
    o.bridge.max_frame_bytes = 16384;
    o.rpc.max_concurrent_streams = 4;
  }
  s->server = std::make_unique<Server>("127.0.0.1:0", o);
  Check(s->server->RegisterService(&s->service).ok(), "RegisterService");
  Check(s->server->Init().ok(), "Server::Init");
  Check(s->server->ListenOn([](Server&) {}).ok(), "Server::ListenOn");
  s->address = transport::ResolveAddress(s->server->address()).value();
  return s;
}

// The servers, shut down at exit (before OpenSSL's own cleanup, which was
// registered earlier).
struct Servers {
  std::unique_ptr<FuzzServer> by_config[8];
  ~Servers() {
    for (auto& s : by_config) {
      if (s != nullptr) s->server->Shutdown(absl::Seconds(1));
    }
  }
};

FuzzServer& GetServer(uint8_t config) {
  // Fuzzed strings that are not UTF-8 make protobuf log each parse.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  (void)Key();  // OpenSSL's atexit cleanup first: it then runs after ours.
  static Servers servers;
  std::unique_ptr<FuzzServer>& s = servers.by_config[config & 7];
  if (s == nullptr) s = StartServer(config & 7);
  return *s;
}

// ---- The client --------------------------------------------------------------

// Protobuf wire format by hand, so that fuzzed strings (invalid UTF-8) go
// out as they are.
void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void AppendBytesField(int field, absl::string_view bytes, std::string* out) {
  AppendVarint(static_cast<uint64_t>(field) << 3 | 2, out);
  AppendVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

std::string U32Bytes(uint32_t v) {
  std::string out(4, '\0');
  big_endian::Store32(v, out.data());
  return out;
}

// A WINDOW_UPDATE payload from the server (stream 0 or a call).
void CheckWindowUpdate(absl::string_view payload) {
  Check(payload.size() == transport::kWindowUpdateBytes,
        "a malformed WINDOW_UPDATE from the server");
  const uint32_t increment = big_endian::Load32(payload.data());
  Check(increment >= 1 && increment <= kMaxIncrement,
        "a bad WINDOW_UPDATE increment from the server");
}

// Text fields are proto3 strings: keep them printable ASCII.
std::string Printable(std::string s) {
  for (char& c : s) c = static_cast<char>(0x20 + static_cast<uint8_t>(c) % 95);
  return s;
}

// What the client knows about one call (a stream it sent HEADERS on).
struct Call {
  uint32_t id = 0;
  // Opened by a well-formed operation (UNARY, STREAM_OPEN): its result is
  // predictable. -1: a method name not in kMethods.
  bool structured = false;
  int method = -1;
  std::vector<EchoRequest> requests;
  bool input_ended = false;
  bool cancelled = false;   // By us.
  bool timeout = false;
  // A request over the server's message limit: the first one, or one
  // after a request a single-request method may already have answered.
  bool oversized = false;
  bool late_oversized = false;
  uint64_t sent_bytes = 0;  // Message bytes, against the 2 MiB window.
  uint64_t credit_given = 0;
  // What the server sent.
  bool got_headers = false;
  bool assembling = false;
  uint64_t expected = 0;
  std::string partial;
  std::vector<std::string> messages;
  uint64_t received_bytes = 0;
  uint64_t unacknowledged = 0;  // Received, not yet returned as credit.
  bool done = false;  // TRAILERS or CANCEL received.
  bool cancelled_by_server = false;
  absl::StatusCode code = absl::StatusCode::kOk;
};

// How a frame is mangled (RAW) or compressed on its way out.
struct Mods {
  bool compress = false;
  bool force_compressed_flag = false;  // COMPRESSED even if lz4 did not help.
  bool skip_sequence = false;
  bool reserved = false;  // Non-zero reserved header bytes.
  bool flip = false;      // One bit of the sealed body.
};

struct BridgeMessage {
  bool oversized;
  transport::MessageKind kind;
  std::string body;
};

class Client {
 public:
  Client(FuzzServer& server, uint8_t config)
      : server_(server),
        secure_((config & kConfigInsecure) == 0),
        limits_(server.options.bridge),
        max_streams_(server.options.rpc.max_concurrent_streams) {}

  void Run(InputReader& in);

 private:
  enum class End { kDefault, kHalfClose, kReset, kGraceful };

  void Handshake();
  void AcceptSession();
  void RunOp(InputReader& in);
  void Finish();
  void CheckOutcome();
  void CheckCall(const Call& c) const;

  // Sending.
  void Send(uint32_t stream, uint8_t type, uint8_t flags,
            absl::string_view payload, Mods mods = {});
  void SendMessageFrames(Call& c, absl::string_view message, bool split,
                         uint8_t last_flags, bool compress);
  uint32_t NewCallId() const;
  // Frames may still go out (no GOAWAY sent, not half-closed).
  bool CanSend() const {
    return !sent_goaway_ && !half_closed_ && !write_dead_ && socket_.valid();
  }
  Call& OpenCall(uint32_t id);
  Call* PickCall(uint8_t selector);
  EchoRequest ReadRequest(InputReader& in);
  std::string RequestBytes(Call& c, const EchoRequest& request);
  int MethodIndex(InputReader& in, std::string* name);

  // Receiving.
  bool PumpOnce(int timeout_ms);
  bool PumpUntil(const std::function<bool()>& done);
  void OnServerFrame(transport::OpenedFrame frame);
  void OnCallFrame(Call& c, const transport::OpenedFrame& frame);
  void FeedMessage(Call& c, absl::string_view bytes, uint8_t flags);
  bool ExpectationsMet() const;

  FuzzServer& server_;
  const bool secure_;
  const BridgeOptions limits_;
  const uint32_t max_streams_;
  transport::Socket socket_;
  std::string local_address_;
  std::shared_ptr<Bridge> session_;
  std::optional<transport::Fernet> sealer_;
  std::optional<transport::FrameOpener> opener_;
  transport::FrameDecoder decoder_;
  uint64_t sequence_ = 0;
  std::string out_;
  size_t out_pos_ = 0;
  bool write_dead_ = false;
  bool eof_ = false;
  bool reset_ = false;
  bool half_closed_ = false;
  End end_ = End::kDefault;
  // A valid call sequence so far: results are predictable.
  bool strict_ = true;

  uint32_t highest_id_ = 0;
  std::map<uint32_t, Call> calls_;
  std::vector<uint32_t> order_;  // Calls opened, in order.
  size_t calls_opened_ = 0;
  uint64_t connection_credit_given_ = 0;
  uint64_t bridge_bytes_ = 0;
  std::deque<std::string> pings_;  // Awaiting their ACK.
  std::vector<BridgeMessage> bridge_messages_;
  std::set<absl::StatusCode> goaway_codes_;  // Carried by GOAWAYs we sent.
  bool sent_goaway_ = false;
  bool server_goaway_ = false;
  absl::StatusCode server_goaway_code_ = absl::StatusCode::kOk;
};

void Client::Handshake() {
  absl::StatusOr<transport::Socket> socket =
      transport::ConnectTcp(server_.address, absl::Now() + kBound);
  Check(socket.ok(), "connect to the server");
  socket_ = *std::move(socket);
  const int fd = socket_.fd();
  absl::StatusOr<transport::ClientHandshake> handshake =
      secure_ ? transport::ClientHandshake::Create(Key())
              : transport::ClientHandshake::CreateInsecure();
  Check(handshake.ok(), "ClientHandshake");
  transport::FrameSealer plain = transport::FrameSealer::Insecure();
  transport::FrameOpener plain_opener = transport::FrameOpener::Insecure();
  const absl::Time deadline = absl::Now() + kBound;
  std::string frame;
  Check(plain.Seal(0, FrameType::kHandshake, 0, handshake->client_hello(),
                   false, absl::ToUnixSeconds(absl::Now()), &frame)
            .ok(),
        "seal the ClientHello");
  Check(transport::WriteAll(fd, frame, deadline).ok(), "send the ClientHello");
  absl::StatusOr<std::string> body = transport::ReadOneFrame(fd, deadline);
  Check(body.ok(), "read the ServerHello");
  absl::StatusOr<transport::OpenedFrame> hello = plain_opener.Open(*body);
  Check(hello.ok(), "open the ServerHello");
  absl::StatusOr<std::optional<std::string>> finished =
      handshake->OnServerFrame(hello->header, hello->payload);
  Check(finished.ok(), "the server's handshake");
  if (finished->has_value()) {
    frame.clear();
    Check(plain.Seal(0, FrameType::kHandshake, 0, **finished, false,
                     absl::ToUnixSeconds(absl::Now()), &frame)
              .ok(),
          "seal the ClientFinished");
    Check(transport::WriteAll(fd, frame, deadline).ok(),
          "send the ClientFinished");
  }
  if (const transport::SessionKeys* keys = handshake->keys(); keys != nullptr) {
    sealer_.emplace(keys->c2s);
    opener_.emplace(transport::FrameOpener::Secure(keys->s2c));
  } else {
    opener_.emplace(transport::FrameOpener::Insecure());
  }
  local_address_ = transport::LocalAddress(fd).value().ToString();
}

// The session the server made of this connection. Taken at the end, not
// after the handshake: one wait for the server's thread less.
void Client::AcceptSession() {
  absl::StatusOr<std::shared_ptr<Bridge>> session =
      server_.server->Accept(kBound);
  Check(session.ok(), "Server::Accept after a valid handshake");
  session_ = *std::move(session);
  Check(session_->peer_address() == local_address_,
        "Accept returned another connection's session");
}

void Client::Send(uint32_t stream, uint8_t type, uint8_t flags,
                  absl::string_view payload, Mods mods) {
  if (stream > highest_id_) highest_id_ = stream;
  std::optional<std::string> compressed;
  if (mods.compress) {
    transport::CompressionOptions options;
    options.threshold_bytes = 0;
    compressed = transport::MaybeCompress(payload, options);
    if (compressed.has_value()) {
      payload = *compressed;
      flags |= transport::kFlagCompressed;
    } else if (mods.force_compressed_flag) {
      flags |= transport::kFlagCompressed;
    }
  }
  if (mods.skip_sequence) ++sequence_;
  std::string inner(transport::kFrameHeaderBytes, '\0');
  big_endian::Store64(sequence_++, &inner[transport::kSequenceOffset]);
  big_endian::Store32(stream, &inner[transport::kStreamIdOffset]);
  inner[transport::kTypeOffset] = static_cast<char>(type);
  inner[transport::kFlagsOffset] = static_cast<char>(flags);
  if (mods.reserved) inner[transport::kReservedOffset + 1] = 1;
  inner.append(payload.data(), payload.size());
  std::string body;
  if (sealer_.has_value()) {
    Check(sealer_->SealTo(inner, absl::ToUnixSeconds(absl::Now()), &body).ok(),
          "Fernet seal");
  } else {
    body = std::move(inner);
  }
  if (mods.flip) body[body.size() / 2] ^= 0x01;
  if (body.size() > limits_.max_frame_bytes) strict_ = false;
  if (write_dead_) return;
  out_ += U32Bytes(static_cast<uint32_t>(body.size()));
  out_ += body;
}

uint32_t Client::NewCallId() const {
  if (highest_id_ < rpc::kFirstCallStreamId) return rpc::kFirstCallStreamId;
  if (highest_id_ >= 0xfffffffd) return highest_id_;  // Exhausted: reused.
  return highest_id_ % 2 == 0 ? highest_id_ + 1 : highest_id_ + 2;
}

Call& Client::OpenCall(uint32_t id) {
  auto [it, added] = calls_.try_emplace(id);
  if (added) {
    it->second.id = id;
    order_.push_back(id);
    ++calls_opened_;
  } else {
    strict_ = false;  // HEADERS on a known stream.
  }
  return it->second;
}

Call* Client::PickCall(uint8_t selector) {
  if (order_.empty()) return nullptr;
  return &calls_[order_[selector % order_.size()]];
}

int Client::MethodIndex(InputReader& in, std::string* name) {
  const uint8_t m = in.U8();
  if (m < kMethodCount) {
    *name = kMethods[m];
    return m;
  }
  *name = Printable(in.Str8());
  for (size_t i = 0; i < kMethodCount; ++i) {
    if (*name == kMethods[i]) return static_cast<int>(i);
  }
  return -1;
}

EchoRequest Client::ReadRequest(InputReader& in) {
  EchoRequest request;
  request.set_text(Printable(in.Str16()));
  request.set_n(in.U32());
  return request;
}

// The request's message bytes (9-byte header, then the protobuf), noting
// what the server must make of them.
std::string Client::RequestBytes(Call& c, const EchoRequest& request) {
  const std::string bytes = request.SerializeAsString();
  if (bytes.size() > limits_.max_message_bytes) {
    (c.requests.empty() ? c.oversized : c.late_oversized) = true;
  }
  if (!c.cancelled && !c.oversized && !c.late_oversized) {
    c.requests.push_back(request);
  }
  return rpc::MessageHeader(bytes.size()) + bytes;
}

// Sends `message` on call `c` in one DATA frame, or two when `split`;
// `last_flags` go on the last one.
void Client::SendMessageFrames(Call& c, absl::string_view message, bool split,
                               uint8_t last_flags, bool compress) {
  if (c.input_ended && !c.cancelled) strict_ = false;  // After END_STREAM.
  c.sent_bytes += message.size();
  if (c.sent_bytes > rpc::kStreamWindowBytes) strict_ = false;
  Mods mods;
  mods.compress = compress;
  if (split && message.size() > transport::kMessageHeaderBytes) {
    const size_t half = transport::kMessageHeaderBytes +
                        (message.size() - transport::kMessageHeaderBytes) / 2;
    Send(c.id, static_cast<uint8_t>(FrameType::kData), 0,
         message.substr(0, half), mods);
    message.remove_prefix(half);
  }
  Send(c.id, static_cast<uint8_t>(FrameType::kData), last_flags, message, mods);
  if ((last_flags & transport::kFlagEndStream) != 0) c.input_ended = true;
}

void Client::RunOp(InputReader& in) {
  const uint8_t code = in.U8();
  const uint8_t kind = code & 0x0f;
  const uint8_t variant = code >> 4;
  const uint8_t kEndBoth =
      transport::kFlagEndMessage | transport::kFlagEndStream;
  switch (kind) {
    case kOpGarbage:
      strict_ = false;
      if (!write_dead_) out_ += in.Str8();
      return;
    case kOpUnary:
    case kOpStreamOpen: {
      std::string method;
      const int index = MethodIndex(in, &method);
      const EchoRequest request = [&] {
        EchoRequest r = ReadRequest(in);
        if (kind == kOpUnary) r.set_fail_code(in.U8());
        return r;
      }();
      rpc::CallHeaders headers;
      headers.set_method(method);
      if (kind == kOpUnary && (variant & 2) != 0) {
        const uint8_t key = in.U8() % kMetadataKeyCount;
        rpc::MetadataEntry* entry = headers.add_metadata();
        entry->set_key(kMetadataKeys[key]);
        entry->set_value(in.Str8());
        if (key == kMetadataKeyCount - 1) strict_ = false;  // A bad key.
      }
      if ((variant & 4) != 0) headers.set_timeout_micros(in.U32());
      const bool with_request = kind == kOpUnary || (variant & 1) != 0;
      const bool split = kind == kOpUnary && (variant & 1) != 0;
      Call& c = OpenCall(NewCallId());
      c.structured = true;
      c.method = index;
      c.timeout = headers.timeout_micros() > 0;
      Mods mods;
      mods.compress = (variant & 8) != 0;
      std::string payload = rpc::EncodePrefixed(headers);
      if (!with_request) {
        Send(c.id, static_cast<uint8_t>(FrameType::kHeaders), 0, payload, mods);
      } else if (split) {
        Send(c.id, static_cast<uint8_t>(FrameType::kHeaders), 0, payload, mods);
        SendMessageFrames(c, RequestBytes(c, request), false, kEndBoth,
                          mods.compress);
      } else {
        const std::string message = RequestBytes(c, request);
        c.sent_bytes += message.size();
        payload += message;
        Send(c.id, static_cast<uint8_t>(FrameType::kHeaders), kEndBoth,
             payload, mods);
        c.input_ended = true;
      }
      return;
    }
    case kOpStreamMsg: {
      const uint8_t selector = in.U8();
      const EchoRequest request = ReadRequest(in);
      Call* c = PickCall(selector);
      if (c == nullptr) return;
      const uint8_t flags = transport::kFlagEndMessage |
                            ((variant & 2) != 0 ? transport::kFlagEndStream : 0);
      SendMessageFrames(*c, RequestBytes(*c, request), (variant & 1) != 0,
                        flags, (variant & 8) != 0);
      return;
    }
    case kOpStreamEnd: {
      Call* c = PickCall(in.U8());
      if (c == nullptr) return;
      SendMessageFrames(*c, "", false, transport::kFlagEndStream, false);
      return;
    }
    case kOpCancel: {
      const uint8_t selector = in.U8();
      const uint8_t status = in.U8();
      const std::string reason = in.Str8();
      Call* c = PickCall(selector);
      if (c == nullptr) return;
      bool ascii = true;
      for (char ch : reason) ascii &= static_cast<uint8_t>(ch) < 0x80;
      if (status < 1 || status > 16 || !ascii) strict_ = false;
      c->cancelled = true;
      Send(c->id, static_cast<uint8_t>(FrameType::kCancel), 0,
           std::string(1, static_cast<char>(status)) + reason);
      return;
    }
    case kOpWindowUpdate: {
      Call* c = (variant & 1) != 0 ? nullptr : PickCall(in.U8());
      const uint32_t increment = in.U32();
      uint64_t& given = c != nullptr ? c->credit_given : connection_credit_given_;
      const uint64_t window = c != nullptr ? rpc::kStreamWindowBytes
                                           : transport::kInitialWindowBytes;
      given += increment;
      if (increment == 0 || window + given > kMaxIncrement) strict_ = false;
      Send(c != nullptr ? c->id : 0,
           static_cast<uint8_t>(FrameType::kWindowUpdate), 0,
           U32Bytes(increment));
      return;
    }
    case kOpPing: {
      std::string payload = (variant & 2) != 0 ? in.Str8() : in.Bytes(8);
      if ((variant & 2) == 0) payload.resize(transport::kPingBytes, '\0');
      const bool ack = (variant & 1) != 0;
      if (payload.size() != transport::kPingBytes) {
        strict_ = false;
      } else if (!ack) {
        pings_.push_back(payload);
      }
      Send(0, static_cast<uint8_t>(FrameType::kPing),
           ack ? transport::kFlagAck : 0, payload);
      return;
    }
    case kOpBridge: {
      BridgeMessage m;
      m.kind = (variant & 1) != 0 ? transport::MessageKind::kTyped
                                  : transport::MessageKind::kValue;
      if (m.kind == transport::MessageKind::kTyped) {
        const std::string& name = EchoRequest::descriptor()->full_name();
        m.body.resize(2);
        big_endian::Store16(static_cast<uint16_t>(name.size()), m.body.data());
        m.body += name;
      }
      m.body += in.Str16();
      const size_t fragment = (variant & 2) != 0 ? size_t{in.U8()} + 1 : 8192;
      m.oversized = m.body.size() > limits_.max_message_bytes;
      std::string wire(transport::kMessageHeaderBytes, '\0');
      big_endian::Store64(m.body.size(), wire.data());
      wire[8] = static_cast<char>(m.kind);
      wire += m.body;
      bridge_bytes_ += wire.size();
      if (bridge_bytes_ > transport::kInitialWindowBytes) strict_ = false;
      Mods mods;
      mods.compress = (variant & 8) != 0;
      absl::string_view rest = wire;
      size_t n = std::max(fragment, transport::kMessageHeaderBytes);
      for (;;) {
        const absl::string_view piece = rest.substr(0, n);
        rest.remove_prefix(piece.size());
        Send(transport::kBridgeStreamId, static_cast<uint8_t>(FrameType::kData),
             rest.empty() ? transport::kFlagEndMessage : 0, piece, mods);
        if (rest.empty()) break;
        n = fragment;
      }
      bridge_messages_.push_back(std::move(m));
      return;
    }
    case kOpGoAway: {
      const uint8_t status = in.U8();
      const std::string reason = in.Str8();
      strict_ = false;
      sent_goaway_ = true;
      if (status <= 16) {
        goaway_codes_.insert(status == 0 ? absl::StatusCode::kOutOfRange
                                         : static_cast<absl::StatusCode>(status));
      }
      Send(0, static_cast<uint8_t>(FrameType::kGoAway), 0,
           std::string(1, static_cast<char>(status)) + reason);
      return;
    }
    case kOpClose:
      switch (variant & 3) {
        case 0:
          end_ = End::kHalfClose;
          break;
        case 1:
          end_ = End::kReset;
          break;
        default:
          end_ = End::kGraceful;
          break;
      }
      strict_ = false;
      return;
    case kOpHeaders: {
      strict_ = false;
      std::string headers;
      if ((variant & 4) != 0) {
        headers = in.Str8();
      } else {
        const uint8_t m = in.U8();
        AppendBytesField(1, m < kMethodCount ? kMethods[m] : in.Str8(), &headers);
        const uint32_t timeout = in.U32();
        if (timeout != 0) {
          AppendVarint(2 << 3, &headers);
          AppendVarint(timeout, &headers);
        }
        for (int i = in.U8() % 4; i > 0; --i) {
          std::string entry;
          AppendBytesField(1, in.Str8(), &entry);
          AppendBytesField(2, in.Str8(), &entry);
          AppendBytesField(3, entry, &headers);
        }
        if ((variant & 1) != 0) {
          AppendVarint(4 << 3, &headers);
          AppendVarint(1, &headers);
        }
      }
      const uint32_t prefix = (variant & 2) != 0
                                  ? in.U32()
                                  : static_cast<uint32_t>(headers.size());
      const uint8_t flags = in.U8();
      const std::string payload = U32Bytes(prefix) + headers + in.Str16();
      Call& c = OpenCall(NewCallId());
      Send(c.id, static_cast<uint8_t>(FrameType::kHeaders), flags, payload);
      return;
    }
    default: {  // RAW
      strict_ = false;
      const uint8_t type = in.U8();
      const uint8_t flags = in.U8();
      const uint8_t selector = in.U8();
      uint32_t id = 0;
      switch (selector & 7) {
        case kStreamZero:
        case kStreamBridge:
        case kStreamTwo:
          id = selector & 7;
          break;
        case kStreamNewestCall:
          id = order_.empty() ? rpc::kFirstCallStreamId : order_.back();
          break;
        case kStreamNewCall:
          id = NewCallId();
          break;
        case kStreamOlderCall:
          id = order_.empty() ? rpc::kFirstCallStreamId
                              : order_[(selector >> 3) % order_.size()];
          break;
        case kStreamEven:
          id = NewCallId() + 1;
          break;
        default:
          id = in.U32();
          break;
      }
      const std::string payload = in.Str16();
      if (type == static_cast<uint8_t>(FrameType::kHeaders) &&
          id >= rpc::kFirstCallStreamId && id % 2 == 1 &&
          calls_.count(id) == 0) {
        OpenCall(id);
      }
      Mods mods;
      mods.compress = (variant & 1) != 0;
      mods.force_compressed_flag = true;
      mods.skip_sequence = (variant & 2) != 0;
      mods.reserved = (variant & 4) != 0;
      mods.flip = (variant & 8) != 0;
      Send(id, type, flags, payload, mods);
      return;
    }
  }
}

// ---- Reading and checking what the server sends ----

bool Client::PumpOnce(int timeout_ms) {
  if (!socket_.valid()) return false;
  pollfd p{socket_.fd(), 0, 0};
  if (!eof_) p.events |= POLLIN;
  const bool pending = !write_dead_ && out_pos_ < out_.size();
  if (pending) p.events |= POLLOUT;
  if (p.events == 0) return false;
  const int n = poll(&p, 1, timeout_ms);
  if (n <= 0) return false;
  if (pending && (p.revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
    const ssize_t w = send(socket_.fd(), out_.data() + out_pos_,
                           out_.size() - out_pos_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      out_pos_ += static_cast<size_t>(w);
      if (out_pos_ == out_.size()) {
        out_.clear();
        out_pos_ = 0;
      }
    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
               errno != EINTR) {
      write_dead_ = true;  // The server closed: what is left is moot.
      out_.clear();
      out_pos_ = 0;
    }
  }
  if (eof_ || (p.revents & (POLLIN | POLLERR | POLLHUP)) == 0) return true;
  char buf[64 * 1024];
  for (;;) {
    const ssize_t r = recv(socket_.fd(), buf, sizeof(buf), MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r <= 0) {
      // A close with a frame half sent is legitimate (the server failed
      // the connection with output pending): no Finish() check.
      eof_ = true;
      break;
    }
    decoder_.Feed(absl::string_view(buf, static_cast<size_t>(r)));
    for (;;) {
      absl::StatusOr<std::optional<std::string>> body = decoder_.Next();
      Check(body.ok(), "the server sent a bad frame length");
      if (!body->has_value()) break;
      absl::StatusOr<transport::OpenedFrame> frame = opener_->Open(**body);
      if (!frame.ok()) {
        Die(absl::StrCat("the server sent a frame that does not open: ",
                         frame.status().ToString()));
      }
      OnServerFrame(*std::move(frame));
    }
  }
  return true;
}

bool Client::PumpUntil(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + kBound;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    if (!PumpOnce(10) && !done()) {
      // Nothing to wait for on the socket: someone else's effect.
      absl::SleepFor(absl::Microseconds(50));
    }
  }
  return true;
}

void Client::OnServerFrame(transport::OpenedFrame frame) {
  const transport::FrameHeader& h = frame.header;
  Check(!server_goaway_, "a frame after the server's GOAWAY");
  if (h.stream_id == transport::kConnectionStreamId) {
    switch (h.type) {
      case FrameType::kPing:
        Check(h.has_flag(transport::kFlagAck) && !pings_.empty() &&
                  frame.payload == pings_.front(),
              "a PING from the server that acknowledges none of ours");
        pings_.pop_front();
        return;
      case FrameType::kWindowUpdate:
        CheckWindowUpdate(frame.payload);
        return;
      case FrameType::kGoAway:
        Check(!frame.payload.empty() && frame.payload.size() <= 513 &&
                  static_cast<uint8_t>(frame.payload[0]) <= 16,
              "a malformed GOAWAY from the server");
        server_goaway_ = true;
        server_goaway_code_ = static_cast<absl::StatusCode>(frame.payload[0]);
        return;
      default:
        Die(absl::StrCat("the server sent ", transport::FrameTypeName(h.type),
                         " on stream 0"));
    }
  }
  auto it = calls_.find(h.stream_id);
  if (it == calls_.end()) {
    Die(absl::StrCat("the server sent ", transport::FrameTypeName(h.type),
                     " on stream ", h.stream_id, ", which we never opened"));
  }
  OnCallFrame(it->second, frame);
}

void Client::OnCallFrame(Call& c, const transport::OpenedFrame& frame) {
  const transport::FrameHeader& h = frame.header;
  if (c.done && h.type != FrameType::kCancel &&
      h.type != FrameType::kWindowUpdate) {
    Die(absl::StrCat("the server sent ", transport::FrameTypeName(h.type),
                     " on call ", c.id, " after its end"));
  }
  switch (h.type) {
    case FrameType::kHeaders: {
      Check(!c.got_headers && c.messages.empty() && !c.assembling,
            "a server HEADERS that is not the call's first frame");
      c.got_headers = true;
      rpc::CallHeaders headers;
      absl::StatusOr<absl::string_view> rest =
          rpc::ParsePrefixed(frame.payload, &headers);
      Check(rest.ok() && rpc::FromWire(headers.metadata()).ok(),
            "a malformed server HEADERS");
      FeedMessage(c, *rest, h.flags);
      return;
    }
    case FrameType::kData:
      FeedMessage(c, frame.payload, h.flags);
      return;
    case FrameType::kTrailers: {
      rpc::CallTrailers trailers;
      absl::StatusOr<absl::string_view> rest =
          rpc::ParsePrefixed(frame.payload, &trailers);
      Check(rest.ok() && h.has_flag(transport::kFlagEndStream) &&
                trailers.code() <= 16 &&
                rpc::FromWire(trailers.metadata()).ok(),
            "malformed TRAILERS from the server");
      FeedMessage(c, *rest, h.flags);
      Check(!c.assembling, "TRAILERS in the middle of a message");
      c.done = true;
      c.code = static_cast<absl::StatusCode>(trailers.code());
      return;
    }
    case FrameType::kCancel: {
      absl::Status carried;
      Check(rpc::DecodeCancel(frame.payload, &carried).ok(),
            "a malformed CANCEL from the server");
      if (!c.done) {
        c.done = true;
        c.cancelled_by_server = true;
        c.code = carried.code();
      }
      return;
    }
    case FrameType::kWindowUpdate:
      CheckWindowUpdate(frame.payload);
      return;
    default:
      Die(absl::StrCat("the server sent ", transport::FrameTypeName(h.type),
                       " on call ", c.id));
  }
}

void Client::FeedMessage(Call& c, absl::string_view bytes, uint8_t flags) {
  const size_t fed = bytes.size();
  c.received_bytes += fed;
  Check(c.received_bytes <= rpc::kStreamWindowBytes + c.credit_given,
        "the server overran a call's window");
  if (!c.assembling && !bytes.empty()) {
    Check(bytes.size() >= transport::kMessageHeaderBytes &&
              static_cast<uint8_t>(bytes[8]) == rpc::kMethodMessageKind,
          "a server message without its header");
    c.expected = big_endian::Load64(bytes.data());
    bytes.remove_prefix(transport::kMessageHeaderBytes);
    c.assembling = true;
    c.partial.clear();
  }
  if (!c.assembling) {
    Check((flags & transport::kFlagEndMessage) == 0,
          "END_MESSAGE without a message");
    return;
  }
  Check(bytes.size() <= c.expected - c.partial.size(),
        "a server message longer than its header says");
  c.partial.append(bytes.data(), bytes.size());
  if ((flags & transport::kFlagEndMessage) != 0) {
    Check(c.partial.size() == c.expected,
          "a server message shorter than its header says");
    c.messages.push_back(std::move(c.partial));
    c.partial.clear();
    c.assembling = false;
  }
  // Return credit as a client would (a quarter window at a time), so that
  // long replies do not stall.
  c.unacknowledged += fed;
  if (c.unacknowledged >= rpc::kStreamWindowBytes / 4 && CanSend()) {
    const uint32_t increment = static_cast<uint32_t>(c.unacknowledged);
    c.unacknowledged = 0;
    c.credit_given += increment;
    Send(c.id, static_cast<uint8_t>(FrameType::kWindowUpdate), 0,
         U32Bytes(increment));
  }
}

// A valid script: every call we finished has its end, every ping its ACK.
bool Client::ExpectationsMet() const {
  if (!pings_.empty()) return eof_;
  for (const auto& [id, c] : calls_) {
    if (c.structured && c.input_ended && !c.cancelled && !c.done) return eof_;
  }
  return true;
}

void Client::CheckCall(const Call& c) const {
  if (!c.structured || c.cancelled || !c.input_ended) return;
  const std::string what = absl::StrCat(
      "call ", c.id, " (", c.method >= 0 ? kMethods[c.method] : "unknown",
      ") ended with ", absl::StatusCodeToString(c.code),
      c.cancelled_by_server ? " (CANCEL)" : " (TRAILERS)", " after ",
      c.messages.size(), " message(s)");
  Check(c.done, absl::StrCat("no end for call ", c.id));
  if (c.timeout && c.code == absl::StatusCode::kDeadlineExceeded) return;
  // Whether the server answered the first request before it saw this one.
  if (c.late_oversized && c.cancelled_by_server &&
      c.code == absl::StatusCode::kResourceExhausted) {
    return;
  }
  // Refused at once (TRAILERS): past max_concurrent_streams, whatever the
  // method; for a method the server does not have, whatever the request.
  if (!c.cancelled_by_server && c.messages.empty() &&
      c.code == absl::StatusCode::kResourceExhausted &&
      calls_opened_ > max_streams_) {
    return;
  }
  if (c.method == -1 || c.method == kMethodCount - 1) {
    Check(c.code == absl::StatusCode::kUnimplemented &&
              !c.cancelled_by_server,
          what);
    return;
  }
  if (c.oversized) {
    Check(c.code == absl::StatusCode::kResourceExhausted && c.messages.empty(),
          what);
    return;
  }
  Check(!c.cancelled_by_server, what);
  if (c.method > kMethodChat) return;  // Health, reflection: theirs to say.
  std::vector<EchoReply> replies(c.messages.size());
  for (size_t i = 0; i < c.messages.size(); ++i) {
    Check(replies[i].ParseFromString(c.messages[i]), what);
  }
  const auto echoes = [&](const EchoRequest& request, const EchoReply& reply) {
    return reply.text() == request.text() && reply.n() == request.n();
  };
  switch (c.method) {
    case kMethodUnary:
      if (c.requests.empty()) {
        Check(c.code != absl::StatusCode::kOk, what);
      } else if (const uint32_t f =
                     static_cast<uint32_t>(c.requests[0].fail_code()) % 17;
                 f != 0) {
        Check(c.code == static_cast<absl::StatusCode>(f) && replies.empty(),
              what);
      } else {
        Check(c.code == absl::StatusCode::kOk && replies.size() == 1 &&
                  echoes(c.requests[0], replies[0]),
              what);
      }
      return;
    case kMethodSum: {
      int64_t sum = 0;
      for (const EchoRequest& r : c.requests) sum += r.n();
      Check(c.code == absl::StatusCode::kOk && replies.size() == 1 &&
                replies[0].n() == sum &&
                replies[0].text() == std::to_string(c.requests.size()),
            what);
      return;
    }
    case kMethodRange: {
      if (c.requests.empty()) {
        Check(c.code != absl::StatusCode::kOk, what);
        return;
      }
      Check(c.code == absl::StatusCode::kOk &&
                static_cast<int64_t>(replies.size()) ==
                    FuzzEcho::RangeCount(c.requests[0]),
            what);
      for (size_t i = 0; i < replies.size(); ++i) {
        Check(replies[i].n() == static_cast<int64_t>(i) &&
                  replies[i].text() == c.requests[0].text(),
              what);
      }
      return;
    }
    case kMethodChat:
      Check(c.code == absl::StatusCode::kOk &&
                replies.size() == c.requests.size(),
            what);
      for (size_t i = 0; i < replies.size(); ++i) {
        Check(echoes(c.requests[i], replies[i]), what);
      }
      return;
  }
}

void Client::Finish() {
  if (end_ == End::kDefault) {
    if (strict_) {
      Check(PumpUntil([this] { return ExpectationsMet(); }),
            "the server did not answer a valid call sequence in time");
      Check(!eof_, "the server closed a valid connection");
    }
    end_ = End::kGraceful;
  }
  if (end_ == End::kGraceful) {
    goaway_codes_.insert(absl::StatusCode::kOutOfRange);
    sent_goaway_ = true;
    Send(0, static_cast<uint8_t>(FrameType::kGoAway), 0,
         std::string(1, '\0'));
  }
  Check(PumpUntil([this] { return write_dead_ || out_pos_ == out_.size(); }),
        "the server stopped reading");
  AcceptSession();
  if (end_ == End::kReset) {
    const linger l{1, 0};
    setsockopt(socket_.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    socket_.Close();
    reset_ = true;
  } else {
    shutdown(socket_.fd(), SHUT_WR);
    half_closed_ = true;
    Check(PumpUntil([this] { return eof_; }),
          "the server did not close the connection");
  }
  Check(WaitFor([this] { return session_->closed(); }),
        "the server's session did not close");
}

void Client::CheckOutcome() {
  const absl::Status status = session_->status();
  const absl::StatusCode code = status.code();
  if (strict_) {
    Check(code == absl::StatusCode::kOutOfRange,
          absl::StrCat("a valid connection ended with ", status.ToString()));
    Check(server_goaway_ && server_goaway_code_ == absl::StatusCode::kOk,
          "no GOAWAY(OK) in answer to ours");
    for (const auto& [id, c] : calls_) CheckCall(c);
    RecvOptions options;
    options.timeout = absl::ZeroDuration();
    for (const BridgeMessage& m : bridge_messages_) {
      absl::StatusOr<ReceivedMessage> got = session_->RecvRaw(options);
      if (m.oversized) {
        Check(got.status().code() == absl::StatusCode::kResourceExhausted,
              "an oversized Bridge message was not RESOURCE_EXHAUSTED");
        continue;
      }
      Check(got.ok() && got->kind() == m.kind && got->ReadAll().ok() &&
                *got->ReadAll() == m.body,
            "a Bridge message did not arrive intact");
    }
    Check(session_->RecvRaw(options).status().code() ==
              absl::StatusCode::kOutOfRange,
          "more Bridge messages than were sent");
  } else {
    const bool documented =
        code == absl::StatusCode::kDataLoss ||
        code == absl::StatusCode::kUnavailable ||
        code == absl::StatusCode::kResourceExhausted ||
        goaway_codes_.count(code) != 0;
    Check(documented, absl::StrCat("the connection ended with ",
                                   status.ToString()));
  }
  Check(WaitFor([this] { return server_.counter->running.load() == 0; }),
        "a handler did not return after the connection closed");
  Check(WaitFor([this] { return server_.server->Count() == 0; }),
        "the server kept a closed session");
}

void Client::Run(InputReader& in) {
  Handshake();
  while (!in.empty() && end_ == End::kDefault) {
    RunOp(in);
    PumpOnce(0);
    if (out_.size() - out_pos_ > (size_t{256} << 10)) {
      Check(PumpUntil([this] {
              return write_dead_ || out_.size() - out_pos_ < (size_t{64} << 10);
            }),
            "the server stopped reading");
    }
  }
  Finish();
  CheckOutcome();
  if (socket_.valid()) {
    // A reset instead of TIME_WAIT: thousands of connections a second
    // would otherwise exhaust the ephemeral ports.
    const linger l{1, 0};
    setsockopt(socket_.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  }
}

}  // namespace
}  // namespace netstructer::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace netstructer::fuzz;  // NOLINT: a fuzz target's file.
  if (size < 1) return 0;
  InputReader in(absl::string_view(reinterpret_cast<const char*>(data), size));
  const uint8_t config = in.U8() & 7;
  Client client(GetServer(config), config);
  client.Run(in);
  return 0;
}
