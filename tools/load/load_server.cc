#include "netstructer/tools/load/load_server.h"

#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "netstructer/tools/load/bridge_value.h"
#include "netstructer/tools/load/payload.h"
#include "netstructer/tools/load/process_stats.h"

namespace netstructer::load {

absl::Status LoadService::Mismatch(absl::Status status) {
  counters_->mismatches.fetch_add(1, std::memory_order_relaxed);
  return status;
}

absl::Status LoadService::Failed(absl::Status status) {
  counters_->errors.fetch_add(1, std::memory_order_relaxed);
  return status;
}

absl::StatusOr<std::optional<PayloadId>> LoadService::ReadChecked(
    ServerReader<::load::Chunk>* reader, ::load::Chunk* chunk) {
  absl::StatusOr<bool> more = reader->Read(chunk);
  if (!more.ok()) return Failed(more.status());
  if (!*more) return std::nullopt;
  absl::StatusOr<PayloadId> id = CheckPayload(chunk->data());
  if (!id.ok()) return Mismatch(id.status());
  return *id;
}

absl::Status LoadService::Echo(ServerContext* context,
                               const ::load::Chunk* request,
                               ::load::Chunk* response) {
  if (absl::StatusOr<PayloadId> id = CheckPayload(request->data()); !id.ok()) {
    return Mismatch(id.status());
  }
  response->set_data(request->data());
  counters_->echo_calls.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status LoadService::Fetch(ServerContext* context,
                                const ::load::FetchRequest* request,
                                ServerWriter<::load::Chunk>* writer) {
  if (request->count() == 0 || request->count() > kMaxFetchChunks) {
    return absl::InvalidArgumentError(
        absl::StrCat("Fetch takes 1 to ", kMaxFetchChunks, " chunks, not ",
                     request->count()));
  }
  ::load::Chunk chunk;
  for (uint32_t i = 0; i < request->count(); ++i) {
    chunk.set_data(
        MakePayload({request->connection(), request->first_sequence() + i}));
    if (absl::Status s = writer->Write(chunk); !s.ok()) return Failed(s);
    counters_->fetch_chunks.fetch_add(1, std::memory_order_relaxed);
  }
  counters_->fetch_streams.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status LoadService::Upload(ServerContext* context,
                                 ServerReader<::load::Chunk>* reader,
                                 ::load::UploadReply* reply) {
  ::load::Chunk chunk;
  PayloadId last;
  for (;;) {
    absl::StatusOr<std::optional<PayloadId>> id = ReadChecked(reader, &chunk);
    if (!id.ok()) return id.status();
    if (!id->has_value()) break;
    const PayloadId& got = **id;
    if (reply->chunks() == 0) {
      reply->set_first_sequence(got.sequence);
    } else if (got.connection != last.connection ||
               got.sequence != last.sequence + 1) {
      return Mismatch(absl::DataLossError(
          absl::StrCat("Upload: payload ", got.connection, "/", got.sequence,
                       " after ", last.connection, "/", last.sequence)));
    }
    last = got;
    reply->set_chunks(reply->chunks() + 1);
    reply->set_bytes(reply->bytes() + chunk.data().size());
    reply->set_last_sequence(got.sequence);
    counters_->upload_chunks.fetch_add(1, std::memory_order_relaxed);
  }
  counters_->upload_streams.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status LoadService::Chat(
    ServerContext* context,
    ServerReaderWriter<::load::Chunk, ::load::Chunk>* stream) {
  ::load::Chunk chunk;
  for (;;) {
    absl::StatusOr<std::optional<PayloadId>> id = ReadChecked(stream, &chunk);
    if (!id.ok()) return id.status();
    if (!id->has_value()) break;
    if (absl::Status s = stream->Write(chunk); !s.ok()) return Failed(s);
    counters_->chat_chunks.fetch_add(1, std::memory_order_relaxed);
  }
  counters_->chat_streams.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status LoadService::Stats(ServerContext* context,
                                const ::load::StatsRequest* request,
                                ::load::StatsReply* reply) {
  const ServerCounters& c = *counters_;
  reply->set_sessions(server_ != nullptr ? server_->Count() : 0);
  reply->set_bridge_sessions(c.bridge_sessions.load());
  reply->set_echo_calls(c.echo_calls.load());
  reply->set_fetch_streams(c.fetch_streams.load());
  reply->set_fetch_chunks(c.fetch_chunks.load());
  reply->set_upload_streams(c.upload_streams.load());
  reply->set_upload_chunks(c.upload_chunks.load());
  reply->set_chat_streams(c.chat_streams.load());
  reply->set_chat_chunks(c.chat_chunks.load());
  reply->set_bridge_messages(c.bridge_messages.load());
  reply->set_mismatches(c.mismatches.load());
  reply->set_errors(c.errors.load());
  const HeapSample heap = ReadOwnHeap();
  reply->set_heap_in_use_kib(heap.in_use_kib);
  reply->set_heap_free_kib(heap.free_kib);
  return absl::OkStatus();
}

void ServeBridgeEcho(const std::shared_ptr<Bridge>& bridge,
                     ServerCounters* counters) {
  for (;;) {
    absl::StatusOr<Value> value = bridge->RecvBuffer();
    if (!value.ok()) {
      // OUT_OF_RANGE: the client closed cleanly (the end of every run).
      // UNAVAILABLE after our own shutdown closed the session is not the
      // client's doing either; the client's checks catch a lost session.
      if (value.status().code() != absl::StatusCode::kOutOfRange &&
          value.status().code() != absl::StatusCode::kUnavailable) {
        counters->errors.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    }
    if (!CheckBridgeValue(*value).ok()) {
      counters->mismatches.fetch_add(1, std::memory_order_relaxed);
      return;  // The client sees no answer and reports it.
    }
    if (!bridge->SendBuffer(*value).ok()) {
      counters->errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    counters->bridge_messages.fetch_add(1, std::memory_order_relaxed);
  }
}

absl::Status RunLoadServer(const LoadServerOptions& options, std::istream& in,
                           std::ostream& out) {
  if (absl::Status s = RaiseOpenFileLimit(); !s.ok()) return s;
  ServerOptions server_options;
  server_options.insecure = options.insecure;
  server_options.keys = options.keys;
  // Every connection comes from 127.0.0.1 or 127.0.0.2, all at once: the
  // per-IP cap (64 by default) and rate limit (20/s, burst 40) would refuse
  // most of them. Room for a few more than asked, so a cap is never what a
  // run measures.
  service::AcceptPolicyOptions& policy = server_options.policy;
  policy.max_sessions_per_ip = options.connections + 8;
  policy.max_sessions_total = options.connections + 16;
  policy.new_connections_per_ip_per_second = 0;

  ServerCounters counters;
  LoadService service(&counters);
  // Echo checks and returns its request: it never blocks, so it stays on
  // the I/O thread as the figures in tools/load/README.md were measured.
  service.set_handlers_never_block(true);
  Server server("127.0.0.1:0", server_options);
  service.set_server(&server);
  if (absl::Status s = server.RegisterService(&service); !s.ok()) return s;
  if (absl::Status s = server.Init(); !s.ok()) return s;

  // The accept loop: every new session passes by; Bridge clients get an
  // echo thread each (RecvBuffer blocks), RPC sessions need nothing (the
  // server dispatches their calls). Both stay in the server's table.
  std::vector<std::thread> echoes;  // Accept loop's thread only.
  absl::Status listened;
  std::thread acceptor([&] {
    listened = server.ListenOn([&](Server& s) {
      for (;;) {
        absl::StatusOr<std::shared_ptr<Bridge>> session = s.Accept();
        if (!session.ok()) return;  // Shut down.
        if ((*session)->peer_ip() != kBridgeClientIp) continue;
        counters.bridge_sessions.fetch_add(1, std::memory_order_relaxed);
        echoes.emplace_back([bridge = *std::move(session), &counters] {
          ServeBridgeEcho(bridge, &counters);
        });
      }
    });
  });

  const std::string address = server.address();
  out << address.substr(address.rfind(':') + 1) << "\n" << std::flush;
  std::string line;
  while (std::getline(in, line) && line != "stop") {
  }
  server.Shutdown(absl::Seconds(2));
  acceptor.join();
  for (std::thread& t : echoes) t.join();
  return listened;
}

}  // namespace netstructer::load
