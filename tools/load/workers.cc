#include "netstructer/tools/load/workers.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netstructer/proto/value_compare.h"
#include "netstructer/tools/load/bridge_value.h"
#include "netstructer/tools/load/payload.h"

namespace netstructer::load {

namespace {

// Most payloads in one Fetch or Upload, and in one bidi stream: with 64 KiB
// at most each, 1 MiB, within a call's 2 MiB window (no flow-control stall
// inside a round).
constexpr uint32_t kMaxChunksPerStream = 16;

// DATA_LOSS naming where `got` first differs from `want`.
absl::Status Differs(absl::string_view what, absl::string_view got,
                     absl::string_view want) {
  const size_t n = std::min(got.size(), want.size());
  const size_t at =
      std::mismatch(got.begin(), got.begin() + n, want.begin()).first -
      got.begin();
  return absl::DataLossError(
      absl::StrCat(what, ": ", got.size(), " bytes where ", want.size(),
                   " were sent, first difference at ", at));
}

}  // namespace

CallOptions RunContext::Call() const {
  CallOptions options;
  options.timeout = call_timeout;
  return options;
}

// ---- Unary -------------------------------------------------------------

UnaryLoop::UnaryLoop(std::shared_ptr<Channel> channel, uint32_t connection,
                     RunContext* run)
    : stub_(std::move(channel)), connection_(connection), run_(run) {}

void UnaryLoop::Start(int in_flight) {
  {
    MutexLock lock(&mu_);
    outstanding_ += in_flight;
  }
  for (int i = 0; i < in_flight; ++i) Issue();
}

void UnaryLoop::Issue() {
  auto request = std::make_shared<::load::Chunk>();
  request->set_data(MakePayload({connection_, next_sequence_.fetch_add(1)}));
  stub_.EchoAsync(*request, run_->Call(),
                  [self = shared_from_this(),
                   request](absl::StatusOr<::load::Chunk> response) {
                    self->OnDone(*request, response);
                  });
}

void UnaryLoop::OnDone(const ::load::Chunk& request,
                       const absl::StatusOr<::load::Chunk>& response) {
  if (!response.ok()) {
    failed_ = true;
    run_->counters.Error(Kind::kUnary, connection_, response.status());
  } else if (response->data() != request.data()) {
    failed_ = true;
    run_->counters.Mismatch(Kind::kUnary, connection_,
                            Differs("Echo", response->data(), request.data()));
  } else {
    run_->counters.Add(Kind::kUnary, 1, 2, 2 * request.data().size());
    if (!run_->stopping.load() && !failed_.load()) {
      Issue();  // This chain goes on.
      return;
    }
  }
  MutexLock lock(&mu_);
  if (--outstanding_ == 0) idle_cv_.SignalAll();
}

bool UnaryLoop::WaitIdle(absl::Time deadline) {
  MutexLock lock(&mu_);
  while (outstanding_ > 0) {
    if (idle_cv_.WaitWithDeadline(&mu_, deadline) && outstanding_ > 0) {
      return false;
    }
  }
  return true;
}

// ---- Worker ------------------------------------------------------------

bool Worker::Error(const absl::Status& status) {
  run_->counters.Error(kind_, connection_, status);
  return false;
}

bool Worker::Mismatch(const absl::Status& status) {
  run_->counters.Mismatch(kind_, connection_, status);
  return false;
}

void Worker::Count(uint64_t calls, uint64_t messages, uint64_t bytes) {
  run_->counters.Add(kind_, calls, messages, bytes);
}

bool Worker::Expect(absl::string_view data, PayloadId want) {
  absl::StatusOr<PayloadId> id = CheckPayload(data);
  if (!id.ok()) return Mismatch(id.status());
  if (!(*id == want)) {
    return Mismatch(absl::DataLossError(
        absl::StrCat("payload ", id->connection, "/", id->sequence, " where ",
                     want.connection, "/", want.sequence, " was due")));
  }
  return true;
}

Worker::Batch Worker::NextBatch() {
  Batch b;
  b.first = next_sequence_;
  b.count = CountFor({connection_, b.first}, kMaxChunksPerStream);
  next_sequence_ += b.count;
  return b;
}

namespace {

// Server streaming: each round asks for a few chunks and reads them.
class FetchWorker final : public Worker {
 public:
  FetchWorker(uint32_t connection, std::shared_ptr<Channel> channel,
              RunContext* run)
      : Worker(Kind::kServerStream, connection, run),
        stub_(std::move(channel)) {}

  bool Begin() override {
    batch_ = NextBatch();
    ::load::FetchRequest request;
    request.set_connection(connection_);
    request.set_first_sequence(batch_.first);
    request.set_count(batch_.count);
    reader_ = stub_.Fetch(request, run_->Call());
    return true;
  }

  bool End() override {
    std::unique_ptr<ClientReader<::load::Chunk>> reader = std::move(reader_);
    ::load::Chunk chunk;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < batch_.count; ++i) {
      absl::StatusOr<bool> more = reader->Read(&chunk);
      if (!more.ok()) return Error(more.status());
      if (!*more) {
        return Mismatch(absl::DataLossError(absl::StrCat(
            "Fetch ended after ", i, " of ", batch_.count, " chunks")));
      }
      if (!Expect(chunk.data(), {connection_, batch_.first + i})) return false;
      bytes += chunk.data().size();
    }
    absl::StatusOr<bool> more = reader->Read(&chunk);
    if (!more.ok()) return Error(more.status());
    if (*more) {
      return Mismatch(absl::DataLossError(absl::StrCat(
          "Fetch sent more than the ", batch_.count, " chunks asked")));
    }
    if (absl::Status s = reader->Finish(); !s.ok()) return Error(s);
    Count(1, batch_.count, bytes);
    return true;
  }

 private:
  ::load::Load::Stub stub_;
  Batch batch_;
  std::unique_ptr<ClientReader<::load::Chunk>> reader_;
};

// Client streaming: each round writes a few chunks, then takes the
// server's account of them.
class UploadWorker final : public Worker {
 public:
  UploadWorker(uint32_t connection, std::shared_ptr<Channel> channel,
               RunContext* run)
      : Worker(Kind::kClientStream, connection, run),
        stub_(std::move(channel)) {}

  bool Begin() override {
    batch_ = NextBatch();
    bytes_ = 0;
    writer_ = stub_.Upload(run_->Call());
    ::load::Chunk chunk;
    for (uint32_t i = 0; i < batch_.count; ++i) {
      chunk.set_data(MakePayload({connection_, batch_.first + i}));
      if (absl::Status s = writer_->Write(chunk); !s.ok()) return Error(s);
      bytes_ += chunk.data().size();
    }
    return true;
  }

  bool End() override {
    std::unique_ptr<ClientWriter<::load::Chunk, ::load::UploadReply>> writer =
        std::move(writer_);
    absl::StatusOr<::load::UploadReply> reply = writer->Finish();
    if (!reply.ok()) return Error(reply.status());
    if (reply->chunks() != batch_.count || reply->bytes() != bytes_ ||
        reply->first_sequence() != batch_.first ||
        reply->last_sequence() != batch_.first + batch_.count - 1) {
      return Mismatch(absl::DataLossError(absl::StrCat(
          "Upload of ", batch_.count, " chunks (", bytes_, " bytes, ",
          batch_.first, "..", batch_.first + batch_.count - 1,
          "): the server counted ", reply->chunks(), " (", reply->bytes(),
          " bytes, ", reply->first_sequence(), "..", reply->last_sequence(),
          ")")));
    }
    Count(1, batch_.count, bytes_);
    return true;
  }

 private:
  ::load::Load::Stub stub_;
  Batch batch_;
  uint64_t bytes_ = 0;
  std::unique_ptr<ClientWriter<::load::Chunk, ::load::UploadReply>> writer_;
};

// Bidi: a stream lives a few rounds, one chunk each way per round, but at
// most half its deadline (rounds slow down when the machine is busy); then
// it is half-closed and finished, and the next round opens a new one.
class ChatWorker final : public Worker {
 public:
  ChatWorker(uint32_t connection, std::shared_ptr<Channel> channel,
             RunContext* run)
      : Worker(Kind::kBidi, connection, run), stub_(std::move(channel)) {}

  bool Begin() override {
    if (stream_ == nullptr) {
      stream_ = stub_.Chat(run_->Call());
      retire_ = absl::Now() + run_->call_timeout / 2;
      left_ = CountFor({connection_, next_sequence_}, kMaxChunksPerStream);
    }
    sent_.set_data(MakePayload({connection_, next_sequence_++}));
    if (absl::Status s = stream_->Write(sent_); !s.ok()) return Error(s);
    return true;
  }

  bool End() override {
    ::load::Chunk got;
    absl::StatusOr<bool> more = stream_->Read(&got);
    if (!more.ok()) return Error(more.status());
    if (!*more) {
      return Mismatch(absl::DataLossError("Chat ended before its echo"));
    }
    if (got.data() != sent_.data()) {
      return Mismatch(Differs("Chat", got.data(), sent_.data()));
    }
    Count(0, 2, 2 * sent_.data().size());
    return (--left_ > 0 && absl::Now() < retire_) || EndStream();
  }

  bool Close() override { return stream_ == nullptr || EndStream(); }

 private:
  bool EndStream() {
    std::unique_ptr<ClientReaderWriter<::load::Chunk, ::load::Chunk>> stream =
        std::move(stream_);
    if (absl::Status s = stream->WritesDone(); !s.ok()) return Error(s);
    ::load::Chunk got;
    absl::StatusOr<bool> more = stream->Read(&got);
    if (!more.ok()) return Error(more.status());
    if (*more) {
      return Mismatch(absl::DataLossError("Chat sent an echo of nothing"));
    }
    if (absl::Status s = stream->Finish(); !s.ok()) return Error(s);
    Count(1, 0, 0);
    return true;
  }

  ::load::Load::Stub stub_;
  std::unique_ptr<ClientReaderWriter<::load::Chunk, ::load::Chunk>> stream_;
  uint32_t left_ = 0;
  absl::Time retire_;
  ::load::Chunk sent_;
};

// The Bridge stream: a typed Value out and back per round; a graceful,
// confirmed Close at the end.
class BridgeWorker final : public Worker {
 public:
  BridgeWorker(uint32_t connection, std::shared_ptr<Bridge> bridge,
               RunContext* run)
      : Worker(Kind::kBridge, connection, run), bridge_(std::move(bridge)) {}

  bool Begin() override {
    id_ = {connection_, next_sequence_++};
    sent_ = MakeBridgeValue(id_);
    if (absl::Status s = bridge_->SendBuffer(sent_); !s.ok()) return Error(s);
    return true;
  }

  bool End() override {
    RecvOptions options;
    options.timeout = run_->call_timeout;
    absl::StatusOr<Value> got = bridge_->RecvBuffer(options);
    if (!got.ok()) return Error(got.status());
    absl::StatusOr<PayloadId> id = CheckBridgeValue(*got);
    if (!id.ok()) return Mismatch(id.status());
    if (!(*id == id_) || !ValuesEqual(*got, sent_)) {
      return Mismatch(absl::DataLossError(absl::StrCat(
          "the Bridge echoed value ", id->connection, "/", id->sequence,
          " for ", id_.connection, "/", id_.sequence, ", or not equal to it")));
    }
    // Byte for byte: the echo encodes exactly as what was sent (both are
    // canonical: sets sorted, no repeated keys).
    const std::string got_bytes = got->SerializeAsString();
    const std::string sent_bytes = sent_.SerializeAsString();
    if (got_bytes != sent_bytes) {
      return Mismatch(Differs("Bridge value", got_bytes, sent_bytes));
    }
    Count(1, 2, 2 * SizeFor(id_));
    return true;
  }

  bool Close() override {
    if (absl::Status s = bridge_->Close(run_->call_timeout); !s.ok()) {
      return Error(s);
    }
    return true;
  }

 private:
  std::shared_ptr<Bridge> bridge_;
  PayloadId id_;
  Value sent_;
};

}  // namespace

std::unique_ptr<Worker> MakeWorker(uint32_t connection,
                                   std::shared_ptr<Channel> channel,
                                   std::shared_ptr<Bridge> bridge,
                                   RunContext* run) {
  switch (KindOf(connection)) {
    case Kind::kServerStream:
      return std::make_unique<FetchWorker>(connection, std::move(channel), run);
    case Kind::kClientStream:
      return std::make_unique<UploadWorker>(connection, std::move(channel),
                                            run);
    case Kind::kBidi:
      return std::make_unique<ChatWorker>(connection, std::move(channel), run);
    case Kind::kBridge:
      return std::make_unique<BridgeWorker>(connection, std::move(bridge), run);
    case Kind::kUnary:
      break;
  }
  return nullptr;
}

void DriveWorkers(const std::vector<Worker*>& workers, RunContext* run) {
  // live: not failed; began: Begin succeeded this round.
  std::vector<char> live(workers.size(), 1);
  std::vector<char> began(workers.size(), 0);
  while (!run->stopping.load()) {
    const absl::Time start = absl::Now();
    bool any = false;
    for (size_t i = 0; i < workers.size(); ++i) {
      began[i] = live[i] && workers[i]->Begin();
      live[i] = began[i];
      any = any || began[i];
    }
    if (!any) return;
    for (size_t i = 0; i < workers.size(); ++i) {
      if (began[i] && !workers[i]->End()) live[i] = 0;
    }
    run->counters.Round(absl::Now() - start);
  }
  for (size_t i = 0; i < workers.size(); ++i) {
    if (live[i]) workers[i]->Close();
  }
}

}  // namespace netstructer::load
