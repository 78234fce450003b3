// `netstructer list` and `netstructer call` as a user runs them, against a
// real Server in this process serving the Echo service (tests/rpc/) and the
// built-in health and reflection services.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/subprocess.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/socket.h"

namespace netstructer {
namespace {

// grpcurl's convention: 64 + the status code.
int ExitFor(absl::StatusCode code) { return 64 + static_cast<int>(code); }

using ::netstructer::testing::ProcessResult;
using ::netstructer::testing::RunfilePath;
using ::netstructer::testing::RunProcess;
using ::testing::HasSubstr;
using ::testing::StartsWith;

ProcessResult RunCli(std::vector<std::string> args, const std::string& in = "") {
  args.insert(args.begin(), RunfilePath("tools/netstructer"));
  absl::StatusOr<ProcessResult> r = RunProcess(args, in);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : ProcessResult{};
}

std::string WriteFile(const std::string& name, const std::string& text,
                      mode_t mode) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
  return path;
}

// A keyed server with Echo, and a key file holding its key.
class RpcCli : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }
  void TearDown() override { server_->Shutdown(); }

  void Start(ServerOptions options) {
    const transport::FernetKey key = transport::FernetKey::Generate().value();
    key_file_ = WriteFile("server.key", key.Encode() + "\n", 0600);
    options.keys = {key};
    if (server_ != nullptr) server_->Shutdown();
    server_ = std::make_unique<Server>("127.0.0.1:0", options);
    ASSERT_TRUE(server_->RegisterService(&echo_).ok());
    ASSERT_TRUE(server_->Init().ok());
    ASSERT_TRUE(server_->Listen().ok());
  }

  // `netstructer COMMAND --to ADDRESS --key-file KEY ARGS...`.
  ProcessResult Run(const std::string& command,
                    std::vector<std::string> args = {},
                    const std::string& in = "") {
    std::vector<std::string> argv = {command, "--to", server_->address(),
                                     "--key-file", key_file_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCli(argv, in);
  }

  test::EchoService echo_;
  std::unique_ptr<Server> server_;
  std::string key_file_;
};

TEST_F(RpcCli, ListPrintsEachMethodByServiceInServerOrderThenByName) {
  ProcessResult r = Run("list");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "netstructer.test.rpc.Echo/Chat\n"
            "netstructer.test.rpc.Echo/Range\n"
            "netstructer.test.rpc.Echo/Sum\n"
            "netstructer.test.rpc.Echo/Unary\n"
            "netstructer.health.v1.Health/Check\n"
            "netstructer.reflection.v1.Reflection/FileContainingSymbol\n"
            "netstructer.reflection.v1.Reflection/ListServices\n");
}

TEST_F(RpcCli, ListOfAServicePrintsItsMethodsOnly) {
  ProcessResult r = Run("list", {"netstructer.health.v1.Health"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "netstructer.health.v1.Health/Check\n");
  ProcessResult none = Run("list", {"no.Such"});
  EXPECT_EQ(none.exit_code, ExitFor(absl::StatusCode::kNotFound));
  EXPECT_EQ(none.err, "NOT_FOUND: the server offers no service 'no.Such'\n");
  EXPECT_EQ(none.out, "");
}

TEST_F(RpcCli, EveryDurationSyntaxIsAcceptedByTimeout) {
  for (const char* timeout : {"2s", "500ms", "1m", "3", "0.5"}) {
    ProcessResult r = Run("call", {"--timeout", timeout,
                                   "netstructer.test.rpc.Echo/Unary", "{}"});
    EXPECT_EQ(r.exit_code, 0) << timeout << ": " << r.err;
  }
  ProcessResult bad = Run("call", {"--timeout", "2 s", "netstructer.test.rpc.Echo/Unary", "{}"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, StartsWith("INVALID_ARGUMENT: --timeout: '2 s' is not a "
                                  "duration > 0 (500ms, 2s, 1m, or a number of "
                                  "seconds)\n"));
}

TEST_F(RpcCli, CallPrintsTheReplyAsJson) {
  ProcessResult r =
      Run("call", {"netstructer.test.rpc.Echo/Unary",
                   R"({"text": "hi", "n": 42, "payload": "AAE="})"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // proto3 JSON: int64 as a string, bytes as base64, camelCase names.
  EXPECT_EQ(r.out, "{\"text\":\"hi\",\"n\":\"42\",\"payload\":\"AAE=\"}\n");
  // A leading slash and an empty request work too; defaults print as {}.
  ProcessResult empty = Run("call", {"/netstructer.test.rpc.Echo/Unary", "{}"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "{}\n");
}

TEST_F(RpcCli, CallCanCheckHealth) {
  ProcessResult r =
      Run("call", {"netstructer.health.v1.Health/Check",
                   R"({"service": "netstructer.test.rpc.Echo"})"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"status\":\"SERVING\"}\n");
}

TEST_F(RpcCli, CallWithBadJsonIsInvalidArgument) {
  for (const char* json :
       {R"({"text": )", R"({"nope": 1})", R"({"n": "x"})", "[1]", ""}) {
    ProcessResult r = Run("call", {"netstructer.test.rpc.Echo/Unary", json});
    EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kInvalidArgument)) << json;
    EXPECT_EQ(r.out, "") << json;
    EXPECT_THAT(r.err,
                StartsWith("INVALID_ARGUMENT: the request is not "
                           "JSON for netstructer.test.rpc.EchoRequest: "))
        << json;
  }
}

TEST_F(RpcCli, CallOfAnUnknownMethodOrServiceIsNotFound) {
  ProcessResult method = Run("call", {"netstructer.test.rpc.Echo/Nope", "{}"});
  EXPECT_EQ(method.exit_code, ExitFor(absl::StatusCode::kNotFound));
  EXPECT_EQ(method.out, "");
  EXPECT_EQ(method.err,
            "NOT_FOUND: service netstructer.test.rpc.Echo has no method "
            "Nope (it has: Unary, Sum, Range, Chat)\n");
  ProcessResult service =
      Run("call", {"netstructer.test.rpc.Nope/Unary", "{}"});
  EXPECT_EQ(service.exit_code, ExitFor(absl::StatusCode::kNotFound));
  EXPECT_EQ(service.err,
            "NOT_FOUND: the server knows no service "
            "netstructer.test.rpc.Nope\n");
  // A message is a symbol, but not a service.
  ProcessResult message =
      Run("call", {"netstructer.test.rpc.EchoRequest/Unary", "{}"});
  EXPECT_EQ(message.exit_code, ExitFor(absl::StatusCode::kNotFound));
  EXPECT_EQ(message.err,
            "NOT_FOUND: netstructer.test.rpc.EchoRequest is not a "
            "service on this server\n");
}

TEST_F(RpcCli, CallMakesEveryKindOfCall) {
  // Server streaming: one JSON document per response, as they come.
  ProcessResult range =
      Run("call", {"netstructer.test.rpc.Echo/Range", "-d", R"({"count": 3})"});
  EXPECT_EQ(range.exit_code, 0) << range.err;
  EXPECT_EQ(range.out, "{}\n{\"n\":\"1\"}\n{\"n\":\"2\"}\n");
  // Client streaming: documents from stdin (-d @), separated or not.
  ProcessResult sum = Run("call", {"netstructer.test.rpc.Echo/Sum", "-d", "@"},
                          "{\"n\": 1}\n{\"n\": 2}{\"n\": 3}  \n");
  EXPECT_EQ(sum.exit_code, 0) << sum.err;
  EXPECT_EQ(sum.out, "{\"text\":\"3\",\"n\":\"6\"}\n");
  // Bidi: documents from a file (-d @FILE), each echoed.
  const std::string file =
      WriteFile("chat.json", "{\"text\": \"a\"}\n{\"text\": \"b {}\"}\n", 0600);
  ProcessResult chat =
      Run("call", {"netstructer.test.rpc.Echo/Chat", "-d", "@" + file});
  EXPECT_EQ(chat.exit_code, 0) << chat.err;
  EXPECT_EQ(chat.out, "{\"text\":\"a\"}\n{\"text\":\"b {}\"}\n");
  // No requests at all is a stream of none.
  ProcessResult none = Run("call", {"netstructer.test.rpc.Echo/Sum"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "{\"text\":\"0\"}\n");
}

TEST_F(RpcCli, ABadRequestInAStreamEndsTheCallNamingIt) {
  ProcessResult r = Run("call", {"netstructer.test.rpc.Echo/Chat", "-d",
                                 R"({"text": "a"} {"nope": 1})"});
  EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kInvalidArgument)) << r.err;
  EXPECT_THAT(r.err, StartsWith("INVALID_ARGUMENT: request 2 is not JSON for "
                                "netstructer.test.rpc.EchoRequest: "));
  ProcessResult cut = Run("call", {"netstructer.test.rpc.Echo/Sum", "-d", "{\"n\": 1"});
  EXPECT_EQ(cut.exit_code, ExitFor(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(cut.err, "INVALID_ARGUMENT: request 1 ends before its closing '}'\n");
  ProcessResult missing =
      Run("call", {"netstructer.test.rpc.Echo/Sum", "-d", "@/no/such/file"});
  EXPECT_EQ(missing.exit_code, ExitFor(absl::StatusCode::kNotFound));
  EXPECT_EQ(missing.err, "NOT_FOUND: -d @/no/such/file: cannot open /no/such/file\n");
}

TEST_F(RpcCli, HeadersGoOutAndVerboseShowsBothWays) {
  ProcessResult r = Run("call", {"-v", "-H", "echo-initial: one", "-H",
                                 "echo-trailing:two", "netstructer.test.rpc.Echo/Unary",
                                 R"({"text": "hi"})"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"text\":\"hi\"}\n");  // Only the response on stdout.
  EXPECT_THAT(r.err, StartsWith("> /netstructer.test.rpc.Echo/Unary (unary)\n"
                                "> echo-initial: one\n"
                                "> echo-trailing: two\n"
                                "< initial: one\n"
                                "< (trailer) trailing: two\n"
                                "< status: OK\n"
                                "sent 1 request(s), received 1 response(s) in "));
  ProcessResult failed = Run("call", {"-v", "netstructer.test.rpc.Echo/Unary",
                                      R"({"text": "gone", "failCode": 5})"});
  EXPECT_EQ(failed.exit_code, ExitFor(absl::StatusCode::kNotFound));
  EXPECT_THAT(failed.err, HasSubstr("< status: NOT_FOUND: gone\n"));
  EXPECT_THAT(failed.err, ::testing::EndsWith("\nNOT_FOUND: gone\n"));
}

TEST_F(RpcCli, OnATerminalJsonIsIndented) {
  // script(1) runs the command on a pseudo-terminal: stdout is a tty.
  const std::string command = absl::StrCat(
      RunfilePath("tools/netstructer"), " call --to ", server_->address(),
      " --key-file ", key_file_,
      " netstructer.test.rpc.Echo/Unary '{\"text\": \"hi\", \"n\": 2}'");
  absl::StatusOr<ProcessResult> r =
      RunProcess({"/usr/bin/script", "-qec", command, "/dev/null"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->out << r->err;
  EXPECT_THAT(r->out, HasSubstr("\"text\": \"hi\""));  // Spaced: indented.
  EXPECT_THAT(r->out, HasSubstr("\n"));
  // A pipe gets the one-line form (every other test here).
  EXPECT_EQ(Run("call", {"netstructer.test.rpc.Echo/Unary", R"({"text": "hi", "n": 2})"}).out,
            "{\"text\":\"hi\",\"n\":\"2\"}\n");
}

TEST_F(RpcCli, FormatTextAndEmitDefaults) {
  ProcessResult text = Run("call", {"--format", "text", "netstructer.test.rpc.Echo/Unary",
                                    R"({"text": "hi", "n": 42})"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, "text: \"hi\"\nn: 42\n\n");
  ProcessResult defaults =
      Run("call", {"--emit-defaults", "netstructer.test.rpc.Echo/Unary", "{}"});
  EXPECT_EQ(defaults.exit_code, 0) << defaults.err;
  EXPECT_EQ(defaults.out, "{\"text\":\"\",\"n\":\"0\",\"payload\":\"\"}\n");
}

TEST_F(RpcCli, DescribeShowsEachKindOfSymbolAsProtoText) {
  ProcessResult service = Run("describe", {"netstructer.test.rpc.Echo"});
  EXPECT_EQ(service.exit_code, 0) << service.err;
  EXPECT_THAT(service.out, StartsWith("netstructer.test.rpc.Echo is a service:\n"
                                      "service Echo {\n"));
  EXPECT_THAT(service.out,
              HasSubstr("rpc Chat(stream .netstructer.test.rpc.EchoRequest) "
                        "returns (stream .netstructer.test.rpc.EchoReply);"));
  ProcessResult method = Run("describe", {"netstructer.test.rpc.Echo/Sum"});
  EXPECT_EQ(method.exit_code, 0) << method.err;
  EXPECT_THAT(method.out,
              StartsWith("netstructer.test.rpc.Echo.Sum is a method (client "
                         "streaming, unary response):\nrpc Sum(stream "));
  ProcessResult message = Run("describe", {"netstructer.test.rpc.EchoRequest"});
  EXPECT_EQ(message.exit_code, 0) << message.err;
  EXPECT_THAT(message.out, StartsWith("netstructer.test.rpc.EchoRequest is a message:\n"
                                      "message EchoRequest {\n"));
  EXPECT_THAT(message.out, HasSubstr("int64 sleep_ms = 4;"));
  ProcessResult enumeration = Run(
      "describe", {"netstructer.health.v1.HealthCheckResponse.ServingStatus"});
  EXPECT_EQ(enumeration.exit_code, 0) << enumeration.err;
  EXPECT_THAT(enumeration.out, HasSubstr("is an enum:\nenum ServingStatus {\n"));
  ProcessResult field = Run("describe", {"netstructer.test.rpc.EchoRequest.count"});
  EXPECT_EQ(field.exit_code, 0) << field.err;
  EXPECT_THAT(field.out, HasSubstr("is a field of netstructer.test.rpc.EchoRequest"));
  ProcessResult unknown = Run("describe", {"no.Such"});
  EXPECT_EQ(unknown.exit_code, ExitFor(absl::StatusCode::kNotFound));
  EXPECT_EQ(unknown.err, "NOT_FOUND: the server knows no symbol no.Such\n");
}

TEST_F(RpcCli, MaxTimeBoundsTheWholeCommand) {
  // --timeout allows a minute for each step: only --max-time can end it.
  const absl::Time start = absl::Now();
  ProcessResult r = Run("call", {"--max-time", "300ms", "--timeout", "60s",
                                 "netstructer.test.rpc.Echo/Unary",
                                 R"({"sleepMs": 20000})"});
  EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kDeadlineExceeded)) << r.err;
  EXPECT_THAT(r.err, StartsWith("DEADLINE_EXCEEDED: "));
  EXPECT_LT(absl::Now() - start, absl::Seconds(8));
}

// Runs the CLI with a stdin that stays open and never carries a byte (a
// user who has not typed yet); kills it after `limit`. The exit code, or
// -1 if it had to be killed.
int RunWithSilentStdin(std::vector<std::string> args, absl::Duration limit) {
  args.insert(args.begin(), RunfilePath("tools/netstructer"));
  int in[2];
  if (pipe(in) != 0) return -2;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  int status = 0;
  const absl::Time deadline = absl::Now() + limit;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      close(in[1]);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(20));  // Polling a child's exit.
  }
  close(in[1]);  // Held open until the end: the CLI never saw EOF.
  return WIFEXITED(status) ? WEXITSTATUS(status) : -3;
}

TEST_F(RpcCli, AStreamFromStdinEndsWithTheCallThoughStdinStaysOpen) {
  // The call ends at its deadline while the writer waits for a request
  // that never comes: the command ends too, instead of waiting for EOF.
  EXPECT_EQ(RunWithSilentStdin({"call", "--to", server_->address(), "--key-file",
                                key_file_, "--max-time", "500ms",
                                "netstructer.test.rpc.Echo/Chat", "-d", "@"},
                               absl::Seconds(20)),
            ExitFor(absl::StatusCode::kDeadlineExceeded));
}

TEST(RpcCliProto, AProtoFileOnDiskMayImportTheWellKnownTypes) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  const std::string path = WriteFile("when.proto",
                                     "syntax = \"proto3\";\n"
                                     "package when;\n"
                                     "import \"google/protobuf/timestamp.proto\";\n"
                                     "message Event { google.protobuf.Timestamp at = 1; }\n",
                                     0600);
  // An absolute path, no --import-path, no server.
  ProcessResult r = RunCli({"describe", "--proto", path, "when.Event"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(".google.protobuf.Timestamp at = 1;"));
  ProcessResult missing = RunCli({"describe", "--proto", dir + "/nope.proto", "x.Y"});
  EXPECT_EQ(missing.exit_code, ExitFor(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(missing.err, ::testing::Not(HasSubstr(":0:")));
}

TEST(RpcCliConnect, ConnectTimeoutBoundsAHandshakeThatNeverComes) {
  // A listener nobody accepts from: the connection completes in its
  // backlog, and no handshake ever answers. --timeout would wait a minute.
  transport::Socket listener =
      transport::ListenTcp(transport::ResolveAddress("127.0.0.1:0").value()).value();
  const std::string address =
      transport::LocalAddress(listener.fd()).value().ToString();
  const absl::Time start = absl::Now();
  ProcessResult r = RunCli({"list", "--to", address, "--insecure", "--timeout",
                            "60s", "--connect-timeout", "300ms"});
  EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kDeadlineExceeded)) << r.err;
  EXPECT_LT(absl::Now() - start, absl::Seconds(8));
}

TEST_F(RpcCli, CallReturningAnErrorStatusPrintsItAndExitsWithItsCode) {
  ProcessResult r = Run("call", {"netstructer.test.rpc.Echo/Unary",
                                 R"({"text": "no such row", "failCode": 5})"});
  EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kNotFound));
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "NOT_FOUND: no such row\n");
  // The proto field name works as well as the JSON name.
  ProcessResult denied =
      Run("call", {"netstructer.test.rpc.Echo/Unary",
                   R"({"text": "go away", "fail_code": 7})"});
  EXPECT_EQ(denied.err, "PERMISSION_DENIED: go away\n");
}

TEST_F(RpcCli, CallPastItsTimeoutIsDeadlineExceeded) {
  // A handler that sleeps must not hold the I/O thread (it would not see
  // the cancellation): a pool.
  ServerOptions options;
  options.rpc.handler_threads = 1;
  Start(options);
  const absl::Time start = absl::Now();
  ProcessResult r =
      Run("call", {"--timeout", "300ms", "netstructer.test.rpc.Echo/Unary",
                   R"({"sleepMs": 5000})"});
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(r.err, StartsWith("DEADLINE_EXCEEDED: "));
}

TEST_F(RpcCli, WrongKeyIsUnauthenticated) {
  const std::string wrong = WriteFile(
      "wrong.key", transport::FernetKey::Generate().value().Encode(), 0600);
  for (const std::string& command : {"list", "call"}) {
    std::vector<std::string> argv = {command, "--to", server_->address(),
                                     "--key-file", wrong};
    if (command == "call") {
      argv.push_back("netstructer.test.rpc.Echo/Unary");
      argv.push_back("{}");
    }
    ProcessResult r = RunCli(argv);
    EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kUnauthenticated)) << command;
    EXPECT_EQ(r.out, "") << command;
    EXPECT_EQ(r.err,
              "UNAUTHENTICATED: the server did not accept this key\n")
        << command;
  }
}

TEST_F(RpcCli, KeyFileOthersCanReadIsRefused) {
  const std::string open = WriteFile(
      "open.key", transport::FernetKey::Generate().value().Encode(), 0644);
  ProcessResult r =
      RunCli({"list", "--to", server_->address(), "--key-file", open});
  EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(r.err, StartsWith("PERMISSION_DENIED: "));
  EXPECT_THAT(r.err, HasSubstr("chmod 600"));
}

TEST_F(RpcCli, NoServerIsUnavailable) {
  const std::string address = server_->address();
  server_->Shutdown();
  ProcessResult r = Run("list");
  EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kUnavailable));
  EXPECT_THAT(r.err, StartsWith("UNAVAILABLE: "));
}

// The echo service's types as a FileDescriptorSet file.
std::string WriteProtoset() {
  google::protobuf::FileDescriptorSet set;
  test::rpc::EchoRequest::descriptor()->file()->CopyTo(set.add_file());
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/echo.protoset");
  std::ofstream(path, std::ios::binary) << set.SerializeAsString();
  return path;
}

TEST_F(RpcCli, ProtoFilesAndProtosetsStandInForReflection) {
  ServerOptions options;
  options.builtin_services = false;
  Start(options);
  const std::string proto = RunfilePath("tests/rpc/echo.proto");
  const std::string root = proto.substr(0, proto.size() - strlen("tests/rpc/echo.proto"));
  const std::vector<std::string> with_proto = {"--proto", "tests/rpc/echo.proto",
                                               "--import-path", root};
  const std::vector<std::string> with_protoset = {"--protoset", WriteProtoset()};
  for (const auto& types : {with_proto, with_protoset}) {
    std::vector<std::string> args = types;
    args.insert(args.end(), {"netstructer.test.rpc.Echo/Range", "-d", R"({"count": 2})"});
    ProcessResult call = Run("call", args);
    EXPECT_EQ(call.exit_code, 0) << call.err;
    EXPECT_EQ(call.out, "{}\n{\"n\":\"1\"}\n");
    // list and describe need no server then.
    std::vector<std::string> list = {"list"};
    list.insert(list.end(), types.begin(), types.end());
    ProcessResult listed = RunCli(list);
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    EXPECT_EQ(listed.out,
              "netstructer.test.rpc.Echo/Chat\n"
              "netstructer.test.rpc.Echo/Range\n"
              "netstructer.test.rpc.Echo/Sum\n"
              "netstructer.test.rpc.Echo/Unary\n");
    std::vector<std::string> describe = {"describe"};
    describe.insert(describe.end(), types.begin(), types.end());
    describe.push_back("netstructer.test.rpc.EchoReply");
    ProcessResult described = RunCli(describe);
    EXPECT_EQ(described.exit_code, 0) << described.err;
    EXPECT_THAT(described.out, HasSubstr("message EchoReply {"));
  }
  ProcessResult bad_proto =
      RunCli({"list", "--proto", "no/such.proto", "--import-path", root});
  EXPECT_EQ(bad_proto.exit_code, ExitFor(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(bad_proto.err, HasSubstr("--proto no/such.proto"));
  ProcessResult bad_set = RunCli({"list", "--protoset", proto});
  EXPECT_EQ(bad_set.exit_code, ExitFor(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(bad_set.err, HasSubstr("is not a FileDescriptorSet"));
}

TEST_F(RpcCli, AServerWithoutReflectionIsUnimplemented) {
  ServerOptions options;
  options.builtin_services = false;
  Start(options);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {}, {"netstructer.test.rpc.Echo/Unary", "{}"}}) {
    ProcessResult r = Run(args.empty() ? "list" : "call", args);
    EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kUnimplemented));
    EXPECT_THAT(r.err,
                StartsWith("UNIMPLEMENTED: the server offers no "
                           "reflection (netstructer.reflection.v1.Reflection"));
  }
}

TEST(RpcCliInsecure, ListAndCallWorkWithInsecure) {
  test::EchoService echo;
  ServerOptions options;
  options.insecure = true;
  Server server("127.0.0.1:0", options);
  ASSERT_TRUE(server.RegisterService(&echo).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  ProcessResult r =
      RunCli({"call", "--insecure", "--to", server.address(), "--timeout", "5",
              "netstructer.test.rpc.Echo/Unary", R"({"text": "plain"})"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"text\":\"plain\"}\n");
  ProcessResult listed = RunCli({"list", "--insecure", "--to", server.address()});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("netstructer.test.rpc.Echo/Unary\n"));
}

TEST(RpcCliUsage, UsageErrorsExit2WithTheUsage) {
  const std::vector<std::vector<std::string>> cases = {
      {"list"},
      {"list", "--to", "127.0.0.1:1"},
      {"list", "--to", "127.0.0.1:1", "--insecure", "--key-file", "/x"},
      {"list", "--to", "127.0.0.1:1", "--insecure", "one.Svc", "extra"},
      {"list", "--to", "127.0.0.1:1", "--insecure", "--bogus"},
      {"list", "--to", "127.0.0.1:1", "--insecure", "--timeout", "soon"},
      {"list", "--to", "127.0.0.1:1", "--insecure", "--timeout", "-1s"},
      {"call", "--to", "127.0.0.1:1", "--insecure"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "pkg.Svc/M", "{}", "-d", "{}"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "--format", "yaml", "pkg.Svc/M"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "-H", "nocolon", "pkg.Svc/M"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "-H", "Bad Key: v", "pkg.Svc/M"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "--proto", "a.proto",
       "--protoset", "b.pb", "pkg.Svc/M"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "--import-path", ".", "pkg.Svc/M"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "--max-time", "soon", "pkg.Svc/M"},
      {"describe", "--to", "127.0.0.1:1", "--insecure"},
      {"describe"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "pkg.Svc/M", "{}", "{}"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "pkg.SvcM", "{}"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "pkg.Svc/", "{}"},
      {"call", "--to", "127.0.0.1:1", "--insecure", "/M", "{}"},
      {"call", "--insecure", "pkg.Svc/M", "{}"},
  };
  for (const auto& args : cases) {
    ProcessResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ");
    EXPECT_THAT(r.err, HasSubstr("usage: netstructer " + args[0]))
        << absl::StrJoin(args, " ");
    EXPECT_EQ(r.out, "");
  }
}

TEST(RpcCliDemo, DemoMakesTypedAndStreamingCalls) {
  ProcessResult r = RunCli({"demo"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(
      r.out,
      HasSubstr("unary  SayHello(name: \"haytam\") -> \"Hello, haytam!\"\n"));
  EXPECT_THAT(
      r.out,
      HasSubstr("stream CountTo(up_to: 3)        -> 1, 2, 3, then OK\n"));
  EXPECT_THAT(r.out, HasSubstr("-> INVALID_ARGUMENT: name is empty\n"));
  EXPECT_THAT(r.out,
              HasSubstr("health Check(service: \"\")       -> SERVING\n"));
  EXPECT_THAT(r.out, HasSubstr("    netstructer.demo.Greeter/CountTo\n"
                               "    netstructer.demo.Greeter/SayHello\n"
                               "    netstructer.health.v1.Health/Check\n"));
  EXPECT_THAT(r.out, HasSubstr("    {\"message\":\"Hello, json!\"}\n"));
}

}  // namespace
}  // namespace netstructer
