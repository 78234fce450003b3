// Test helper: links to a server and sends bytes Values of the given sizes,
// each filled with a pattern the receiver can check without holding it
// (byte i of a message of n bytes is (i * 131 + n) & 0xff), then closes
// gracefully. Usage: bulk_sender ADDRESS KEY_FILE SIZE...
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "netstructer/proto/value.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/key_file.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bulk_sender ADDRESS KEY_FILE SIZE...\n");
    return 2;
  }
  netstructer::LinkOptions options;
  options.key = netstructer::transport::LoadKeyFile(argv[2]).value().front();
  options.bridge.max_message_bytes = uint64_t{1} << 30;
  absl::StatusOr<std::shared_ptr<netstructer::Bridge>> bridge =
      netstructer::Bridge::Link(argv[1], options);
  if (!bridge.ok()) {
    std::fprintf(stderr, "link: %s\n", bridge.status().ToString().c_str());
    return 1;
  }
  for (int i = 3; i < argc; ++i) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(argv[i], &n)) return 2;
    std::string data(n, '\0');
    for (uint64_t j = 0; j < n; ++j) data[j] = static_cast<char>((j * 131 + n) & 0xff);
    absl::Status s = (*bridge)->SendBuffer(netstructer::MakeBytes(data));
    if (!s.ok()) {
      std::fprintf(stderr, "send: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  absl::Status closed = (*bridge)->Close(absl::Seconds(120));
  if (!closed.ok()) {
    std::fprintf(stderr, "close: %s\n", closed.ToString().c_str());
    return 1;
  }
  return 0;
}
