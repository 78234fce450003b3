// The greeter client:
//   client --to HOST:PORT (--key-file PATH | --insecure) NAME...
// Calls SayHello with the first name and prints the reply's message, then
// streams every name through SayHelloStream and prints each reply, one per
// line. Exit codes: 0 success; 1 failure, with "error: CODE: message" on
// stderr; 2 bad arguments (usage on stderr).
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "examples/greeter/greeter.ns.h"
#include "netstructer/client/channel.h"
#include "netstructer/tools/cli_args.h"
#include "netstructer/transport/key_file.h"

namespace {

constexpr char kUsage[] =
    "usage: client --to HOST:PORT (--key-file PATH | --insecure) NAME...\n"
    "Says hello to the first NAME, then to every NAME over one stream.\n";

// Each call's deadline: the greeter answers at once, so a call that takes
// longer is stuck (a server that stopped reading, a dead network).
constexpr absl::Duration kCallTimeout = absl::Seconds(10);

int Usage(absl::string_view problem) {
  std::cerr << "client: " << problem << "\n" << kUsage;
  return 2;
}

int Fail(const absl::Status& status) {
  std::cerr << "error: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return 1;
}

// SayHelloStream: one thread writes the names while this one reads the
// replies, so neither side's flow-control window can fill up with replies
// nobody reads, however many names there are.
absl::Status StreamNames(greeter::Greeter::Stub& stub,
                         const std::vector<std::string>& names,
                         const netstructer::CallOptions& options) {
  std::unique_ptr<netstructer::ClientReaderWriter<greeter::HelloRequest,
                                                  greeter::HelloReply>>
      stream = stub.SayHelloStream(options);
  absl::Status write_status;
  std::thread writer([&stream, &names, &write_status] {
    greeter::HelloRequest request;
    for (const std::string& name : names) {
      request.set_name(name);
      write_status = stream->Write(request);
      if (!write_status.ok()) return;  // Finish() below says why.
    }
    write_status = stream->WritesDone();
  });
  greeter::HelloReply reply;
  absl::Status read_status;
  for (;;) {
    absl::StatusOr<bool> more = stream->Read(&reply);
    if (!more.ok()) {
      read_status = more.status();
      break;
    }
    if (!*more) break;
    std::cout << reply.message() << "\n";
  }
  std::cout << std::flush;
  if (!read_status.ok()) stream->Cancel();  // Unblocks a waiting Write.
  writer.join();
  absl::Status status = stream->Finish();
  if (!status.ok()) return status;
  if (!read_status.ok()) return read_status;
  return write_status;
}

}  // namespace

int main(int argc, char** argv) {
  netstructer::tools::FlagSpec spec;
  spec.with_value = {"to", "key-file"};
  spec.boolean = {"insecure"};
  absl::StatusOr<netstructer::tools::CliArgs> args =
      netstructer::tools::CliArgs::Parse(
          std::vector<std::string>(argv + 1, argv + argc), spec);
  if (!args.ok()) return Usage(args.status().message());
  const std::optional<std::string> to = args->Get("to");
  if (!to.has_value()) return Usage("--to is required");
  if (args->Has("insecure") == args->Has("key-file")) {
    return Usage("give exactly one of --key-file and --insecure");
  }
  const std::vector<std::string>& names = args->positional();
  if (names.empty()) return Usage("give at least one NAME");

  netstructer::ChannelOptions channel_options;
  if (args->Has("insecure")) {
    channel_options.link.insecure = true;
  } else {
    absl::StatusOr<std::vector<netstructer::transport::FernetKey>> keys =
        netstructer::transport::LoadKeyFile(*args->Get("key-file"));
    if (!keys.ok()) return Fail(keys.status());
    channel_options.link.key = keys->front();  // The primary key.
  }
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      netstructer::Channel::Create(*to, channel_options);
  if (!channel.ok()) return Fail(channel.status());
  greeter::Greeter::Stub stub(*channel);

  netstructer::CallOptions options;
  options.timeout = kCallTimeout;
  greeter::HelloRequest request;
  request.set_name(names.front());
  absl::StatusOr<greeter::HelloReply> reply = stub.SayHello(request, options);
  if (!reply.ok()) return Fail(reply.status());
  std::cout << reply->message() << "\n";

  if (absl::Status s = StreamNames(stub, names, options); !s.ok()) {
    return Fail(s);
  }
  return 0;
}
