#include "netstructer/tools/bench/bench_server.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/key_file.h"

namespace netstructer::bench {

absl::Status EchoService::Call(ServerContext* context,
                               const ::bench::Payload* request,
                               ::bench::Payload* response) {
  response->set_data(request->data());
  return absl::OkStatus();
}

absl::Status EchoService::Stream(
    ServerContext* context,
    ServerReaderWriter<::bench::Payload, ::bench::Payload>* stream) {
  ::bench::Payload message;
  uint64_t bytes = 0;
  uint64_t messages = 0;
  for (;;) {
    absl::StatusOr<bool> more = stream->Read(&message);
    if (!more.ok()) return more.status();
    if (!*more) break;
    bytes += message.data().size();
    ++messages;
  }
  std::string totals(16, '\0');
  for (int i = 0; i < 8; ++i) {
    totals[i] = static_cast<char>(bytes >> (8 * i));
    totals[8 + i] = static_cast<char>(messages >> (8 * i));
  }
  ::bench::Payload reply;
  reply.set_data(std::move(totals));
  return stream->Write(reply);
}

absl::Status RunBenchServer(const BenchServerOptions& options, std::istream& in,
                            std::ostream& out) {
  ServerOptions server_options;
  if (options.insecure) {
    server_options.insecure = true;
  } else {
    absl::StatusOr<std::vector<transport::FernetKey>> keys =
        transport::LoadKeyFile(options.key_file);
    if (!keys.ok()) return keys.status();
    server_options.keys = *std::move(keys);
  }
  if (!options.ip_limits) {
    server_options.policy.max_sessions_per_ip = 0;                 // None.
    server_options.policy.new_connections_per_ip_per_second = 0;  // None.
  }
  EchoService service;
  // Echo copies bytes and nothing else: on the I/O loop, as the gRPC
  // peer answers on its completion-queue threads.
  service.set_handlers_never_block(true);
  Server server("127.0.0.1:0", server_options);
  if (absl::Status s = server.RegisterService(&service); !s.ok()) return s;
  if (absl::Status s = server.Init(); !s.ok()) return s;
  if (absl::Status s = server.Listen(); !s.ok()) return s;
  const std::string address = server.address();
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InternalError(absl::StrCat("unexpected address ", address));
  }
  out << address.substr(colon + 1) << "\n" << std::flush;
  std::string line;
  while (std::getline(in, line) && line != "stop") {
  }
  server.Shutdown(absl::Seconds(1));
  return absl::OkStatus();
}

}  // namespace netstructer::bench
