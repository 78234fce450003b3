// The Echo service (tests/rpc/echo.proto) and a fixture that runs it on a
// real Server on loopback with a Channel to it.
#ifndef NETSTRUCTER_TESTS_RPC_ECHO_FIXTURE_H_
#define NETSTRUCTER_TESTS_RPC_ECHO_FIXTURE_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "netstructer/client/channel.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/fernet.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::test {

// Echo with observable side effects for the tests.
class EchoService : public rpc::Echo::Service {
 public:
  absl::Status Unary(ServerContext* context, const rpc::EchoRequest* request,
                     rpc::EchoReply* reply) override;
  absl::Status Sum(ServerContext* context,
                   ServerReader<rpc::EchoRequest>* reader,
                   rpc::EchoReply* reply) override;
  absl::Status Range(ServerContext* context, const rpc::EchoRequest* request,
                     ServerWriter<rpc::EchoReply>* writer) override;
  absl::Status Chat(
      ServerContext* context,
      ServerReaderWriter<rpc::EchoReply, rpc::EchoRequest>* stream) override;

  // Handlers that saw IsCancelled() become true.
  std::atomic<int> cancelled_seen{0};
  // Handlers that returned.
  std::atomic<int> finished{0};
  // Sum handlers that started (they wait in Read for the first message).
  std::atomic<int> sums_started{0};
  // Replies Range has written (flow-control tests).
  std::atomic<int64_t> range_written{0};
  // The deadline the last handler saw.
  std::atomic<int64_t> last_deadline_unix_ms{0};

 private:
  // Sleeps up to `ms`, returning early (true) when the call is cancelled.
  bool SleepUnlessCancelled(ServerContext* context, int64_t ms);
};

struct EchoFixtureOptions {
  bool secure = true;
  std::string address = "127.0.0.1:0";
  ServerOptions server;
  ChannelOptions channel;
};

// A running server with EchoService and a connected Channel.
class EchoFixture {
 public:
  explicit EchoFixture(EchoFixtureOptions options = {});
  ~EchoFixture();

  // Another channel to the same server.
  absl::StatusOr<std::shared_ptr<Channel>> Connect() const;

  Server& server() { return *server_; }
  EchoService& service() { return service_; }
  const std::shared_ptr<Channel>& channel() const { return channel_; }
  rpc::Echo::Stub& stub() { return *stub_; }

 private:
  EchoFixtureOptions options_;
  std::optional<transport::FernetKey> key_;
  EchoService service_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<Channel> channel_;
  std::unique_ptr<rpc::Echo::Stub> stub_;
};

// Waits until `counter` (range_written, or a test's own) has not moved for
// 300 ms, at most 20 s: the writer it counts is blocked by flow control.
// Returns the value then.
int64_t WaitUntilStalled(const std::atomic<int64_t>& counter);

}  // namespace netstructer::test

#endif  // NETSTRUCTER_TESTS_RPC_ECHO_FIXTURE_H_
