// `netstructer list` and `netstructer call` as a user runs them, against a
// real Server in this process serving the Echo service (tests/rpc/) and the
// built-in health and reflection services.
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/subprocess.h"
#include "netstructer/transport/fernet.h"

namespace netstructer {
namespace {

// grpcurl's convention: 64 + the status code.
int ExitFor(absl::StatusCode code) { return 64 + static_cast<int>(code); }

using ::netstructer::testing::ProcessResult;
using ::netstructer::testing::RunfilePath;
using ::netstructer::testing::RunProcess;
using ::testing::HasSubstr;
using ::testing::StartsWith;

ProcessResult RunCli(std::vector<std::string> args) {
  args.insert(args.begin(), RunfilePath("tools/netstructer"));
  absl::StatusOr<ProcessResult> r = RunProcess(args);
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
                    std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {command, "--to", server_->address(),
                                     "--key-file", key_file_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCli(argv);
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

TEST_F(RpcCli, CallOfAStreamingMethodIsAClearError) {
  for (const auto& [method, kind] :
       std::vector<std::pair<std::string, std::string>>{
           {"Sum", "a client-streaming"},
           {"Range", "a server-streaming"},
           {"Chat", "a bidirectional-streaming"}}) {
    ProcessResult r =
        Run("call", {"netstructer.test.rpc.Echo/" + method, "{}"});
    EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(r.err,
              absl::StrCat(
                  "INVALID_ARGUMENT: netstructer.test.rpc.Echo/", method,
                  " is ", kind, " method; call makes unary calls only\n"));
  }
}

TEST_F(RpcCli, CallReturningAnErrorStatusPrintsItAndExits1) {
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
  EXPECT_EQ(RunCli({"list", "--insecure", "--to", server.address()}).exit_code,
            0);
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
      {"call", "--to", "127.0.0.1:1", "--insecure", "pkg.Svc/M"},
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
