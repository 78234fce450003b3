// netstructer::Bridge: one authenticated, encrypted connection endpoint,
// either side (the seed's Bridge). A client gets one from Bridge::Link; a
// server's session is a Bridge too. Buffers travel on the Bridge stream
// (docs/PROTOCOL.md section 8): SendBuffer / RecvBuffer of Values or of any
// protobuf message, any size up to max_message_bytes.
//
// Threads: a Bridge is thread-safe. Sends are serialised (one message at a
// time, in call order); receives too. The fast path has no thread hand-off:
// SendBuffer seals and writes on the caller's thread (unless another thread
// is writing the write queue: it takes the frames along), and a thread
// blocked in RecvBuffer reads the socket itself. The Bridge's event loop
// reads only when no caller is reading (to answer pings, absorb messages,
// notice a close), and writes what a full socket buffer left behind.
//
// Why it lives in transport/: a server session is a Bridge, and service/ may
// not depend on client/ (docs/DESIGN.md).
#ifndef NETSTRUCTER_TRANSPORT_BRIDGE_H_
#define NETSTRUCTER_TRANSPORT_BRIDGE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/message.h"
#include "netstructer/proto/value_limits.h"
#include "netstructer/transport/connection_end.h"
#include "netstructer/transport/event_loop.h"
#include "netstructer/transport/event_loop_group.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/message_assembler.h"
#include "netstructer/transport/mutex.h"
#include "netstructer/transport/receive_window.h"
#include "netstructer/transport/send_window.h"
#include "netstructer/transport/socket.h"
#include "netstructer/transport/spill_file.h"
#include "netstructer/transport/stream_handler.h"
#include "proto/value.pb.h"

namespace netstructer {

// Limits and behaviour of one connection, either side. Value type.
struct BridgeOptions {
  // Largest message accepted (a larger one is RESOURCE_EXHAUSTED for that
  // message only). 64 MiB: far above gRPC's often-surprising 4 MiB default,
  // still small enough that an accident does not fill a disk.
  uint64_t max_message_bytes = uint64_t{64} << 20;
  // Messages above this are reassembled in an unlinked temporary file
  // instead of memory. 8 MiB: half the flow-control window.
  uint64_t memory_threshold_bytes = uint64_t{8} << 20;
  // Where temporary files go ("" = $TMPDIR, else /tmp).
  std::string spill_directory;
  // Complete, unconsumed messages (memory and disk) beyond which the peer
  // gets no more credit until the application reads. 32 MiB.
  uint64_t max_inbox_bytes = uint64_t{32} << 20;
  // Payload bytes per DATA frame. 64 KiB: several frames per 1 MiB message
  // (pipelining) at ~1 us of sealing overhead each.
  size_t fragment_bytes = size_t{64} << 10;
  // Largest frame body accepted from the peer (transport/frame_format.h).
  size_t max_frame_bytes = transport::kDefaultMaxFrameBytes;
  // lz4 for payloads of at least 1 KiB when it shrinks them. Turn off when
  // secrets are mixed with attacker-chosen data (CRIME/BREACH).
  bool compression = true;
  // Unsent bytes queued above which SendBuffer waits for the socket. 8 MiB.
  size_t max_queued_send_bytes = size_t{8} << 20;
  // Silence from the peer (no complete, authenticated frame) after which we
  // PING, and after which (plus the timeout) the connection is declared lost.
  absl::Duration keepalive_interval = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // No message in either direction for this long closes the connection
  // (server policy). Infinite = never.
  absl::Duration idle_timeout = absl::InfiniteDuration();
  // The connection is closed this long after it was made, busy or not, with
  // GOAWAY UNAVAILABLE (server policy: a session made with a key that has
  // since leaked or been removed does not live forever; clients reconnect
  // with the current key). Infinite = never.
  absl::Duration max_lifetime = absl::InfiniteDuration();
  // Limits on decoded Values (depth, size).
  ValueLimits value_limits;
};

struct LinkOptions {
  // The pre-shared key (chmod-600 key files: transport/key_file.h). Unset
  // only together with `insecure`.
  std::optional<transport::FernetKey> key;
  // Plaintext frames (still length-prefixed and sequenced), for benchmarks
  // and local debugging only; the server must be insecure too.
  bool insecure = false;
  // The source address to connect from ("127.0.0.2:0"); empty = any.
  std::string local_address;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Connecting and the handshake together end by then, whatever the two
  // timeouts allow (a command's --max-time).
  absl::Time deadline = absl::InfiniteFuture();
  BridgeOptions bridge;
  // The loops the connection's background I/O and asynchronous completions
  // run on; null = the process's shared group (EventLoopGroup::Shared: one
  // loop per core for all client connections, not a thread per connection).
  std::shared_ptr<transport::EventLoopGroup> loops;
};

struct RecvOptions {
  // A message larger than this is RESOURCE_EXHAUSTED and stays queued (call
  // again with a larger max_bytes); nothing is lost. 0 = max_message_bytes.
  uint64_t max_bytes = 0;
  // How long to wait for a message: DEADLINE_EXCEEDED after it.
  absl::Duration timeout = absl::InfiniteDuration();
};

// One received message, before it is parsed: in memory, or in an unlinked
// temporary file when it was larger than the in-memory threshold. Resource
// type (move-only).
class ReceivedMessage {
 public:
  transport::MessageKind kind() const { return kind_; }
  // For typed messages: the protobuf type name.
  const std::string& type_name() const { return type_name_; }
  uint64_t size() const { return size_; }
  bool in_file() const { return file_.has_value(); }
  // Reads [offset, offset + length) of the body.
  absl::StatusOr<std::string> Read(uint64_t offset, size_t length) const;
  // The whole body in memory.
  absl::StatusOr<std::string> ReadAll() const { return Read(0, size_); }

 private:
  friend class Bridge;
  transport::MessageKind kind_ = transport::MessageKind::kValue;
  std::string type_name_;
  uint64_t size_ = 0;
  std::string memory_;  // When not in a file.
  std::optional<transport::SpillFile> file_;
};

class Bridge : public std::enable_shared_from_this<Bridge> {
 public:
  enum class Role { kClient, kServer };

  // Connects to "HOST:PORT" ("[::1]:PORT" for IPv6) and runs the handshake.
  //   UNAVAILABLE         cannot connect (refused, unreachable, lost)
  //   DEADLINE_EXCEEDED   connect or handshake timed out
  //   UNAUTHENTICATED     "the server did not accept this key" (wrong key),
  //                       or the server could not prove it has the key
  //   PERMISSION_DENIED   refused by a rule of the server's accept policy
  //   RESOURCE_EXHAUSTED  refused for capacity (a cap, the rate limit, the
  //                       handshake budget): retry later
  //   FAILED_PRECONDITION secure/insecure mismatch with the server
  //   INVALID_ARGUMENT    bad address or options
  static absl::StatusOr<std::shared_ptr<Bridge>> Link(
      absl::string_view address, const LinkOptions& options);

  // For the server (and tests): wraps a connected, handshaken socket.
  // `send_key`/`recv_key` unset = insecure. `loop` runs the background
  // reading and flushing; it must outlive the Bridge's Close().
  static std::shared_ptr<Bridge> Adopt(
      transport::Socket socket, std::shared_ptr<transport::EventLoop> loop,
      Role role, std::optional<transport::FernetKey> send_key,
      std::optional<transport::FernetKey> recv_key,
      const BridgeOptions& options,
      std::shared_ptr<StreamHandler> stream_handler = nullptr);

  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Sends one buffer. Blocks while flow control or a full send queue hold
  // it back, except on an event loop's thread (a message callback), where
  // it never waits: RESOURCE_EXHAUSTED, nothing of the message sent, when
  // the whole message does not fit the peer's credit and the send queue
  // now ("the peer is not taking messages ...": a message larger than the
  // peer's window, 16 MiB with our peers, never fits there), or when
  // another thread is sending a message on this Bridge ("another thread is
  // sending ..."). Nothing signals when a retry would fit. INVALID_ARGUMENT for a Value that
  // fails Validate (unhashable, too deep, bad UTF-8) or a message over
  // max_message_bytes; the connection's error (UNAVAILABLE, DATA_LOSS, ...)
  // once it is closed.
  absl::Status SendBuffer(const Value& value);
  absl::Status SendBuffer(const google::protobuf::Message& message);

  // Receives the next buffer.
  //   DEADLINE_EXCEEDED    nothing within options.timeout
  //   FAILED_PRECONDITION  a message callback is set, or this is an event
  //                        loop's thread and there is no message yet or
  //                        another thread is receiving (a loop's thread
  //                        never waits; a 0 timeout polls)
  //   RESOURCE_EXHAUSTED   the message is over max_message_bytes (it was
  //                        discarded; the next one is fine) or over
  //                        options.max_bytes (it stays queued)
  //   INVALID_ARGUMENT     the next message is not what was asked for (a
  //                        typed message for RecvBuffer(), or another type)
  //                        or does not decode; it is consumed
  //   OUT_OF_RANGE         end of stream: the peer closed cleanly
  //   UNAVAILABLE          the connection was lost
  //   DATA_LOSS            the peer sent a forged, replayed or corrupt frame
  absl::StatusOr<Value> RecvBuffer(const RecvOptions& options = {});
  absl::Status RecvBuffer(google::protobuf::Message* message,
                          const RecvOptions& options = {});
  // The next message unparsed (large ones stay in their temporary file).
  // FAILED_PRECONDITION on a Bridge with a message callback, and on an
  // event loop's thread (a callback) when it would have to wait (no
  // message yet and a timeout above zero): a loop's thread never waits.
  absl::StatusOr<ReceivedMessage> RecvRaw(const RecvOptions& options = {});

  // Hands every message of the Bridge stream to `on_message` as it arrives,
  // instead of queueing it for RecvBuffer, so that a server serves many
  // Bridge sessions on its loops without a thread each: on the Bridge's
  // event loop, one at a time and in order (a message over
  // max_message_bytes as its RESOURCE_EXHAUSTED), messages queued before
  // the callback was set first; then the end of the connection once (a
  // status for which IsConnectionEnd is true: OUT_OF_RANGE after a clean
  // close), after which it is not called again. The callback shares its
  // loop with other connections: it must not block, and SendBuffer and
  // RecvBuffer there never do (see them: what would wait is refused). Set it once; RecvBuffer and
  // RecvRaw are FAILED_PRECONDITION from then on. The Bridge lives until
  // its end is delivered, even if no one else holds it.
  void SetMessageCallback(
      std::function<void(absl::StatusOr<ReceivedMessage>)> on_message);

  // Graceful close: sends GOAWAY after everything queued, then waits (at
  // most `timeout`) for the peer's GOAWAY in reply (flag ACK), which the
  // peer sends once it has received every message before ours. OK when the
  // peer confirmed: it has all our messages. A GOAWAY the peer sent on its
  // own confirms nothing: its error if it carried one, else UNAVAILABLE
  // "... not confirmed". Messages that arrive meanwhile stay
  // readable. Later sends are FAILED_PRECONDITION. Idempotent.
  absl::Status Close(absl::Duration timeout = absl::Seconds(5));
  // Closes at once with `status` (what later calls return), without GOAWAY.
  void Abort(absl::Status status);
  // Closes at once with `status`, first telling the peer why: GOAWAY with
  // its code and message, queued behind what was sent and written if the
  // socket takes it now (never waits). For a server ending a session (a
  // revoked key, its lifetime, a protocol error in the peer's input).
  // REQUIRES: !status.ok().
  void CloseWithError(absl::Status status);

  bool closed() const;
  // OK while open; then why it closed.
  absl::Status status() const;
  Role role() const { return role_; }
  bool secure() const { return secure_; }
  // On a server session made with a key of the server's ring: that key's
  // index in the ring in force at the handshake (0 = the primary). Unset on
  // a client and in insecure mode. docs/SECURITY.md, key rotation.
  std::optional<int> key_index() const;
  // For the server, before it hands the session out.
  void SetKeyIndex(int index);
  // The peer's IP ("127.0.0.1", "::1") and "IP:PORT".
  const std::string& peer_ip() const { return peer_ip_; }
  const std::string& peer_address() const { return peer_address_; }
  // Called once, on the thread that closes it, after the Bridge closed.
  void SetCloseCallback(std::function<void(Bridge*)> callback);
  const BridgeOptions& options() const { return options_; }

  // ---- For the RPC layer (rpc/), which shares this connection ----------
  // Installs the handler of call-stream frames. A client sets it right
  // after Link (a server never opens streams); a server passes it to Adopt.
  // REQUIRES: not set before.
  void SetStreamHandler(std::shared_ptr<StreamHandler> handler);
  // Seals and writes one frame (never waits for flow control; writes what
  // the socket takes and leaves the rest to the loop).
  absl::Status SendStreamFrame(uint32_t stream, transport::FrameType type,
                               uint8_t flags, absl::string_view payload,
                               bool allow_compression);
  // Several frames at once, in order: large ones (a message's fragments)
  // are compressed and sealed side by side on the machine's cores and
  // written as each is ready (FrameSealer::SealBatch). On an error, the
  // frames before the failing one were sent.
  absl::Status SendStreamFrames(absl::Span<const transport::FrameToSeal> frames);
  // Waits until `ready()` is true (then true), the deadline passes or the
  // connection closes (then false). `ready` is called with an internal lock
  // held: it must be quick and take only locks that are never held while
  // calling into this Bridge. Like RecvBuffer, the waiting thread reads the
  // socket itself when no one else does, and dispatches what arrives.
  bool Await(const std::function<bool()>& ready, absl::Time deadline);
  // Wakes the threads in Await to re-check their condition.
  void Notify();
  // Hands reading back to the event loop now (rather than after the
  // caller-mode linger): for work that completes with no caller waiting.
  // Reads what is pending on this thread, so completions may run here.
  void ResumeLoopReading();
  // The same, done by the loop: for a thread that must not run completions
  // (one starting an asynchronous call may hold locks its callback takes).
  void ResumeLoopReadingSoon();
  // True on a thread that is reading this Bridge now (in a frame handler).
  bool ReadingOnThisThread() const;
  transport::EventLoop* event_loop() const { return loop_.get(); }

 private:
  // The inbox's next item, credit for it given back; the connection's end
  // when it is closed and empty; nullopt when empty and open. A message over
  // `limit` stays queued (RESOURCE_EXHAUSTED).
  std::optional<absl::StatusOr<ReceivedMessage>> TakeNext(uint64_t limit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(recv_mu_);
  // RecvRaw's body, one receiver at a time; `on_loop` as SendMessageLocked.
  absl::StatusOr<ReceivedMessage> RecvRawLocked(const RecvOptions& options,
                                                bool on_loop)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(recv_mu_);
  // Posts one DeliverMessages to the loop (if a callback is set and none is
  // pending). After a message is queued and after the close.
  void ScheduleDelivery();
  // Runs the message callback on the loop for what the inbox holds.
  void DeliverMessages();
  struct InboxItem {
    absl::Status status;  // Non-OK: a failed message (over the limit).
    ReceivedMessage message;
  };

  Bridge(transport::Socket socket, std::shared_ptr<transport::EventLoop> loop,
         Role role, std::optional<transport::FernetKey> send_key,
         std::optional<transport::FernetKey> recv_key,
         const BridgeOptions& options);
  void Start();

  absl::Status SendMessage(transport::MessageKind kind, absl::string_view prefix,
                           absl::string_view body);
  // SendMessage's body, one message at a time. `on_loop`: on an event
  // loop's thread, which never waits (the message fits whole now, or is
  // refused).
  absl::Status SendMessageLocked(transport::MessageKind kind,
                                 absl::string_view prefix,
                                 absl::string_view body, bool on_loop)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(send_mu_);
  // Seals one frame, queues it and writes what the socket takes.
  absl::Status SendFrame(uint32_t stream, transport::FrameType type,
                         uint8_t flags, absl::string_view payload,
                         bool allow_compression);
  // Seals `frames` in order into the write queue (`side_by_side`: on the
  // work pool's lanes if the payloads compress), then writes the queue
  // unless another thread holds the writer role (below) or the reading
  // thread's OutputBatch writes it at its end.
  absl::Status SendFrames(absl::Span<const transport::FrameToSeal> frames,
                          bool side_by_side);
  absl::Status SealFramesLocked(absl::Span<const transport::FrameToSeal> frames,
                                int lanes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  // The write queue (docs/DESIGN.md, "The write queue"): frames are
  // sealed in order under write_mu_ into `queue_`; one thread at a time
  // holds the writer role and writes, without the lock, what it took from
  // the queue (`taken_`), then takes what others queued meanwhile, until
  // the queue is empty or the socket is full. A producer that finds the
  // role taken returns at once: its frames go out with the writer's. When
  // the socket is full the role waits for writability (the loop's
  // EPOLLOUT, or a caller polling in Await), and whoever sees it first, or
  // the next producer, takes the role on.
  enum class Writer { kIdle, kWriting, kAwaitingWritable };
  // Takes the role unless a thread is writing (and there is something).
  bool TakeWriterRoleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // With the role, without write_mu_: writes until the queue is empty, the
  // socket is full (the role awaits writability) or a write fails (the
  // Bridge Fails with it, unless `fail_on_error` is false, our GOAWAY has
  // gone or the peer's has arrived: PeerSentGoAway).
  absl::Status WriteAsWriter(bool fail_on_error = true)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  // The socket became writable: takes the role on if it awaited that.
  // False when another thread holds the role (it is told, and sends again
  // before it lets go: the loop's edge-triggered event is not lost).
  bool ContinueWriting() ABSL_LOCKS_EXCLUDED(write_mu_);
  // WriteAsWriter while holding write_mu_, if the role can be taken: within
  // a batch (the peer opens the first frames while we seal the next), and
  // after a GOAWAY.
  absl::Status FlushLocked(bool fail_on_error = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Writes `taken_` until it is all sent (true), or the socket is full or
  // fails (`*status`) (false). REQUIRES the role.
  bool WriteTaken(absl::Status* status);
  // The peer's GOAWAY has arrived: what it carried ends the connection,
  // not a write that fails after it.
  bool PeerSentGoAway() const;
  // After a round: the role's next state, the shutdown after our GOAWAY,
  // the queued byte count, the epoll interest.
  void EndWriteRoundLocked(const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // queued_bytes_ from the queue and the role's remainder; wakes senders
  // waiting for room; resumes paused input below half the limit.
  void UpdateQueuedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // What a send after our GOAWAY returns. REQUIRES goaway_sent_.
  absl::Status ClosedForSendingLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  class OutputBatch;
  std::atomic<bool> batched_output_{false};
  std::atomic<int> awaiting_{0};  // Threads in Await.
  void OnLoopEvent(uint32_t events);
  // Which epoll events the loop watches (see SetInterest in bridge.cc).
  static constexpr int kCallerReading = 1;
  static constexpr int kOutputPending = 2;
  // A server-side session stops reading while its peer leaves more than
  // max_queued_send_bytes of our output unread (see ProcessInput).
  static constexpr int kInputPaused = 4;
  void SetInterest(int bit, bool on);
  // Waits for input (flushing pending output meanwhile). False on timeout.
  bool WaitForInput(absl::Time deadline);
  void OnKeepaliveTimer();
  // The time of the connection's loop (transport/clock.h): what keepalive,
  // idle_timeout and max_lifetime are measured in.
  absl::Time LoopNow() const {
    return loop_ != nullptr ? loop_->clock()->Now() : absl::Now();
  }
  // How long the loop stays disarmed after a caller's last read.
  absl::Duration CallerModeLinger() const;

  // Reads until the socket is empty (EAGAIN, or a short read: recv returned
  // less than asked) and dispatches every frame. REQUIRES read_mu_.
  enum class ReadMode {
    // The loop on an event: a short read ends it, unless the event said the
    // peer hung up (peer_hangup_seen_): its end may wait behind the data.
    kUntilShortRead,
    kUntilEagain,  // No event in hand (after a caller, a close): to EAGAIN.
    kBlockFirst,   // A caller with an empty inbox: block in the first recv.
  };
  void ProcessInput(ReadMode mode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);
  // Sets SO_RCVTIMEO for a blocking recv ending at `deadline`; false if the
  // deadline has passed.
  bool SetReceiveTimeout(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);
  void SetReceiveTimeoutFor(absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);
  void ScheduleRearmCheck();
  void RearmCheck();
  // REQUIRES read_mu_, which it releases. The loop reads again from now on,
  // starting with what waited.
  void HandReadingToLoop() ABSL_UNLOCK_FUNCTION(read_mu_);
  // Reads what the loop announced (input_pending_) while another thread
  // held read_mu_: the edge-triggered loop reports readiness only once.
  void ReadPendingInput();
  // The server's plaintext REFUSAL of our ClientFinished, if `body` is one.
  absl::Status CheckLateRefusal(absl::string_view body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);
  absl::Status HandleFrame(transport::OpenedFrame frame)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);
  absl::Status HandleData(transport::OpenedFrame frame)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);
  // Returns credit for absorbed bytes, or defers it while the inbox is full.
  void ReturnCredit(uint64_t bytes);
  // Sends a WINDOW_UPDATE for the credit not yet returned: always when
  // `force`, else only once a quarter window has accumulated.
  void SendPendingCredit(bool force);
  // Sends GOAWAY(code, reason) unless sent already, and shuts down our
  // sending side once everything queued before it is written. Never waits
  // for the socket. `answer`: it answers the peer's GOAWAY (flag ACK: we
  // have every message before it). REQUIRES: write_mu_ not held. A failed
  // write of the GOAWAY, or of anything after it, does not Fail the Bridge.
  void SendGoAway(absl::StatusCode code, absl::string_view reason,
                  bool answer = false);
  // For a message we fail to store (a spill file): GOAWAY INTERNAL without
  // the local details, then returns `status` (which ends the connection).
  absl::Status LocalStorageFailure(absl::Status status);
  // Closes with `status` (marked IsConnectionEnd), which every later call
  // returns. Idempotent: the first status stays.
  void Fail(absl::Status status);

  const Role role_;
  const bool secure_;
  const BridgeOptions options_;
  transport::Socket socket_;
  std::shared_ptr<transport::EventLoop> loop_;
  std::string peer_ip_;
  std::string peer_address_;

  // One message at a time on the Bridge stream, in call order.
  Mutex send_mu_ ABSL_ACQUIRED_BEFORE(write_mu_);
  // Lock order: send_mu_, read_mu_, write_mu_, state_mu_.
  Mutex read_mu_ ABSL_ACQUIRED_BEFORE(write_mu_);
  Mutex write_mu_ ABSL_ACQUIRED_BEFORE(state_mu_);
  mutable Mutex state_mu_;
  CondVar state_cv_;  // Inbox, credit, drain, close and reader changes.
  Mutex recv_mu_;     // One receiver at a time.
  // SetMessageCallback's: called by DeliverMessages, on the loop only.
  std::function<void(absl::StatusOr<ReceivedMessage>)> message_callback_
      ABSL_GUARDED_BY(state_mu_);
  std::atomic<bool> has_message_callback_{false};
  std::atomic<bool> delivery_posted_{false};
  bool end_delivered_ ABSL_GUARDED_BY(recv_mu_) = false;

  // Reading side.
  transport::FrameDecoder decoder_ ABSL_GUARDED_BY(read_mu_);
  transport::FrameOpener opener_ ABSL_GUARDED_BY(read_mu_);
  // The message in progress on the Bridge stream.
  transport::MessageAssembler assembler_ ABSL_GUARDED_BY(read_mu_);
  bool eof_seen_ ABSL_GUARDED_BY(read_mu_) = false;
  absl::Duration receive_timeout_ ABSL_GUARDED_BY(read_mu_) = absl::ZeroDuration();
  // Set by the loop when input arrived while another thread held read_mu_.
  std::atomic<bool> input_pending_{false};
  // The loop saw EPOLLRDHUP, EPOLLHUP or EPOLLERR: the peer's FIN or reset
  // is queued, and a short read may stop before it with no edge to come.
  std::atomic<bool> peer_hangup_seen_{false};
  std::atomic<bool> output_pending_{false};
  // kInputPaused is set; changed only under state_mu_ (ProcessInput,
  // UpdateQueuedLocked), so a pause and the resume that ends it cannot cross.
  bool input_paused_ ABSL_GUARDED_BY(state_mu_) = false;
  // Our GOAWAY went out (goaway_sent_, readable without write_mu_: the
  // reader's backpressure check and PING answers).
  std::atomic<bool> goaway_out_{false};
  // A caller has been receiving recently: the loop is disarmed for input.
  std::atomic<bool> caller_mode_{false};
  std::atomic<int64_t> last_caller_read_{0};  // Unix nanoseconds.
  std::atomic<bool> rearm_check_pending_{false};  // See ScheduleRearmCheck.
  Mutex interest_mu_ ABSL_ACQUIRED_AFTER(state_mu_);
  int interest_flags_ ABSL_GUARDED_BY(interest_mu_) = 0;
  uint32_t armed_events_ ABSL_GUARDED_BY(interest_mu_) = 0x2001;  // IN|RDHUP

  // Writing side.
  transport::FrameSealer sealer_ ABSL_GUARDED_BY(write_mu_);
  std::string queue_ ABSL_GUARDED_BY(write_mu_);  // Sealed, not taken.
  Writer writer_ ABSL_GUARDED_BY(write_mu_) = Writer::kIdle;
  // Writability was seen while a thread held the role (ContinueWriting).
  bool writable_seen_ ABSL_GUARDED_BY(write_mu_) = false;
  CondVar write_cv_;  // A writing round ended (SendGoAway waits for it).
  // What the role took from the queue and has not written: owned by the
  // role's holder (taken and handed on under write_mu_), so the writer
  // writes it without the lock. taken_unsent_ is its size for the others.
  std::string taken_;
  size_t taken_pos_ = 0;
  size_t taken_unsent_ ABSL_GUARDED_BY(write_mu_) = 0;
  bool goaway_sent_ ABSL_GUARDED_BY(write_mu_) = false;
  // The error our GOAWAY carried, if any (what sends after it report).
  absl::Status goaway_error_ ABSL_GUARDED_BY(write_mu_);

  // Set once (SetStreamHandler) while the loop may already be reading:
  // readers of frames load the raw pointer, Fail copies the owner.
  std::shared_ptr<StreamHandler> stream_handler_ ABSL_GUARDED_BY(state_mu_);
  std::atomic<StreamHandler*> stream_handler_raw_{nullptr};

  // Shared state.
  std::deque<InboxItem> inbox_ ABSL_GUARDED_BY(state_mu_);
  // What the peer lets us send on the Bridge stream.
  transport::SendWindow send_window_ ABSL_GUARDED_BY(state_mu_){
      transport::kInitialWindowBytes};
  size_t queued_bytes_ ABSL_GUARDED_BY(state_mu_) = 0;
  absl::Status closed_status_ ABSL_GUARDED_BY(state_mu_);
  bool closed_ ABSL_GUARDED_BY(state_mu_) = false;
  // What the peer may still send on the Bridge stream and the credit owed
  // back to it (deferred while the inbox holds max_inbox_bytes).
  transport::ReceiveWindow window_ ABSL_GUARDED_BY(state_mu_);
  // What the peer's GOAWAY said, reported at the end of the stream.
  absl::Status peer_goaway_ ABSL_GUARDED_BY(state_mu_);
  bool peer_goaway_seen_ ABSL_GUARDED_BY(state_mu_) = false;
  // The peer's GOAWAY had ACK: it answered ours (docs/PROTOCOL.md 8.3).
  bool peer_goaway_answers_ours_ ABSL_GUARDED_BY(state_mu_) = false;
  std::function<void(Bridge*)> close_callback_ ABSL_GUARDED_BY(state_mu_);
  absl::Time last_received_ ABSL_GUARDED_BY(state_mu_);
  absl::Time last_activity_ ABSL_GUARDED_BY(state_mu_);
  const absl::Time created_ = LoopNow();
  std::atomic<int> key_index_{-1};
  bool ping_outstanding_ ABSL_GUARDED_BY(state_mu_) = false;
  transport::EventLoop::TimerId keepalive_timer_ ABSL_GUARDED_BY(state_mu_) = 0;
};

}  // namespace netstructer

#endif  // NETSTRUCTER_TRANSPORT_BRIDGE_H_
