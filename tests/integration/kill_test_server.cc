// Test helper for kill_test: a Server on a given address (a fixed port, so
// that the test can restart it on the same one) with the Echo service
// (tests/rpc/echo.proto); each session's Bridge buffers are sent back as
// they arrive.
//
// Usage: kill_test_server ADDRESS KEY_FILE
// Prints "listening on ADDRESS" on stderr once it accepts (or "server:
// ERROR" and exits 1), then serves until killed.
#include <cstdio>
#include <memory>
#include <thread>

#include "netstructer/service/server.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/transport/key_file.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: kill_test_server ADDRESS KEY_FILE\n");
    return 2;
  }
  absl::StatusOr<std::vector<netstructer::transport::FernetKey>> keys =
      netstructer::transport::LoadKeyFile(argv[2]);
  if (!keys.ok()) {
    std::fprintf(stderr, "server: %s\n", keys.status().ToString().c_str());
    return 1;
  }
  netstructer::ServerOptions options;
  options.keys = *keys;
  netstructer::test::EchoService echo;
  netstructer::Server server(argv[1], options);
  absl::Status status = server.RegisterService(&echo);
  if (status.ok()) status = server.Init();
  if (status.ok()) {
    status = server.ListenOn([](netstructer::Server& s) {
      std::fprintf(stderr, "listening on %s\n", s.address().c_str());
      for (;;) {
        absl::StatusOr<std::shared_ptr<netstructer::Bridge>> session =
            s.Accept();
        if (!session.ok()) return;
        std::thread([bridge = *std::move(session)] {
          absl::StatusOr<netstructer::Value> v;
          while ((v = bridge->RecvBuffer()).ok() &&
                 bridge->SendBuffer(*v).ok()) {
          }
        }).detach();
      }
    });
  }
  std::fprintf(stderr, "server: %s\n", status.ToString().c_str());
  return 1;
}
