// The netstructer binary as a user runs it: exit codes, stdout byte for
// byte, and interop of `fernet` with Python's cryptography.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/tests/testing/child_process.h"
#include "netstructer/tests/testing/python.h"
#include "netstructer/tests/testing/raw_peer.h"
#include "netstructer/tests/testing/subprocess.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/frame_header.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake_io.h"
#include "netstructer/transport/handshake_messages.h"
#include "netstructer/transport/key_file.h"
#include "netstructer/transport/socket.h"

namespace netstructer {
namespace {

using ::netstructer::testing::ChildProcess;
using ::netstructer::testing::ProcessResult;
using ::netstructer::testing::RawPeer;
using ::netstructer::testing::RunfilePath;
using ::netstructer::testing::RunProcess;
using ::netstructer::testing::RunPython;
using ::testing::HasSubstr;

constexpr char kKey[] = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

// grpcurl's convention: 64 + the status code.
int ExitFor(absl::StatusCode code) { return 64 + static_cast<int>(code); }

// An address where nothing listens, for as long as the object lives: a
// bound socket that never listens refuses connections.
class RefusingAddress {
 public:
  RefusingAddress() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    address_ = absl::StrCat("127.0.0.1:", ntohs(a.sin_port));
  }
  ~RefusingAddress() { close(fd_); }
  const std::string& str() const { return address_; }

 private:
  int fd_;
  std::string address_;
};

ProcessResult RunCli(std::vector<std::string> args, const std::string& in = "") {
  args.insert(args.begin(), RunfilePath("tools/netstructer"));
  absl::StatusOr<ProcessResult> r = RunProcess(args, in);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : ProcessResult{};
}

std::string WriteKeyFile(const std::string& name, const std::string& text,
                         mode_t mode) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
  return path;
}

TEST(Cli, KeygenOutWritesAPrivateKeyFileAndNeverOverwrites) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/out.key");
  ProcessResult r = RunCli({"keygen", "--out", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<std::vector<transport::FernetKey>> keys =
      transport::LoadKeyFile(path);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 1u);
  // A second keygen to the same file fails and leaves the key alone.
  std::ifstream before(path);
  std::string first((std::istreambuf_iterator<char>(before)), {});
  ProcessResult again = RunCli({"keygen", "--out", path});
  EXPECT_EQ(again.exit_code, ExitFor(absl::StatusCode::kAlreadyExists));
  EXPECT_NE(again.err.find("cannot create"), std::string::npos) << again.err;
  std::ifstream after(path);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(after)), {}), first);
  EXPECT_EQ(RunCli({"keygen", "--out"}).exit_code, 2);
}

TEST(Cli, KeygenPrintsOneFreshKeyAndANewline) {
  ProcessResult a = RunCli({"keygen"});
  ProcessResult b = RunCli({"keygen"});
  EXPECT_EQ(a.exit_code, 0);
  ASSERT_EQ(a.out.size(), 45u);
  EXPECT_EQ(a.out.back(), '\n');
  EXPECT_NE(a.out, b.out);
  // Python accepts it as a key.
  absl::StatusOr<std::string> py = RunPython(
      "import sys\nfrom cryptography.fernet import Fernet\n"
      "f = Fernet(sys.stdin.read().strip().encode())\nprint('ok')\n",
      a.out);
  ASSERT_TRUE(py.ok()) << py.status();
  EXPECT_EQ(*py, "ok\n");
}

TEST(Cli, EncryptWithFixedIvAndTimeMatchesTheSpecVector) {
  ProcessResult r =
      RunCli({"fernet", "encrypt", "--key", kKey, "--now", "499162800", "--iv",
           "000102030405060708090a0b0c0d0e0f"},
          "hello");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhu"
            "VUPgJobwOz7JcbmrR64jVmpU4IwqDA==\n");
}

TEST(Cli, DecryptWritesThePlaintextByteForByte) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  ProcessResult enc = RunCli({"fernet", "encrypt", "--key", kKey}, binary);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  ProcessResult dec = RunCli({"fernet", "decrypt", "--key", kKey}, enc.out);
  EXPECT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, binary);
  EXPECT_EQ(dec.err, "");
}

TEST(Cli, InvalidTokenWritesNothingAndExitsWithDataLoss) {
  ProcessResult enc = RunCli({"fernet", "encrypt", "--key", kKey}, "secret");
  std::string bad = enc.out;
  bad[20] = bad[20] == 'A' ? 'B' : 'A';
  for (const std::string& token : {bad, std::string("garbage"), std::string()}) {
    ProcessResult dec = RunCli({"fernet", "decrypt", "--key", kKey}, token);
    EXPECT_EQ(dec.exit_code, ExitFor(absl::StatusCode::kDataLoss));
    EXPECT_EQ(dec.out, "");
    EXPECT_EQ(dec.err, "DATA_LOSS: invalid token\n");
  }
}

TEST(Cli, DecryptHonoursTtlAndNow) {
  ProcessResult enc =
      RunCli({"fernet", "encrypt", "--key", kKey, "--now", "1000"}, "x");
  ASSERT_EQ(enc.exit_code, 0);
  EXPECT_EQ(RunCli({"fernet", "decrypt", "--key", kKey, "--ttl", "10", "--now",
                 "1010"},
                enc.out)
                .out,
            "x");
  ProcessResult late = RunCli(
      {"fernet", "decrypt", "--key", kKey, "--ttl", "10", "--now", "1011"},
      enc.out);
  EXPECT_EQ(late.exit_code, ExitFor(absl::StatusCode::kDataLoss));
  EXPECT_EQ(late.err, "DATA_LOSS: invalid token\n");
  ProcessResult future = RunCli(
      {"fernet", "decrypt", "--key", kKey, "--ttl=10", "--now=939"}, enc.out);
  EXPECT_EQ(future.exit_code, ExitFor(absl::StatusCode::kDataLoss));
}

TEST(Cli, PythonDecryptsOurTokenAndWeDecryptPythons) {
  ProcessResult enc = RunCli({"fernet", "encrypt", "--key", kKey}, "from c++");
  ASSERT_EQ(enc.exit_code, 0);
  absl::StatusOr<std::string> py = RunPython(
      absl::StrCat("import sys\nfrom cryptography.fernet import Fernet\n"
                   "f = Fernet(b'", kKey, "')\n"
                   "sys.stdout.buffer.write(f.decrypt(sys.stdin.read().encode()))\n"
                   "print()\nprint(f.encrypt(b'from python').decode())\n"),
      enc.out);
  ASSERT_TRUE(py.ok()) << py.status();
  const size_t nl = py->find('\n');
  EXPECT_EQ(py->substr(0, nl), "from c++");
  ProcessResult dec =
      RunCli({"fernet", "decrypt", "--key", kKey}, py->substr(nl + 1));
  EXPECT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, "from python");
}

TEST(Cli, KeyFileWorksWhereKeyDoesAndHoldsARing) {
  ProcessResult old_tok = RunCli({"fernet", "encrypt", "--key", kKey}, "old");
  const std::string path = WriteKeyFile(
      "ring.key", absl::StrCat("# primary first\n", RunCli({"keygen"}).out, kKey, "\n"),
      0600);
  ProcessResult dec = RunCli({"fernet", "decrypt", "--key-file", path}, old_tok.out);
  EXPECT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, "old");
  // Sealing uses the primary (first) key, so the old key alone cannot open.
  ProcessResult enc = RunCli({"fernet", "encrypt", "--key-file", path}, "new");
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_EQ(RunCli({"fernet", "decrypt", "--key", kKey}, enc.out).exit_code, ExitFor(absl::StatusCode::kDataLoss));
}

TEST(Cli, KeyFileReadableByOthersIsRefusedWithTheFix) {
  const std::string path = WriteKeyFile("open.key", kKey, 0644);
  ProcessResult r = RunCli({"fernet", "encrypt", "--key-file", path}, "x");
  EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("chmod 600 ", path)));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr(kKey)));
}

TEST(Cli, UsageErrorsExit2WithAMessage) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"nonsense"},
      {"keygen", "extra"},
      {"fernet"},
      {"fernet", "rot13", "--key", kKey},
      {"fernet", "encrypt"},
      {"fernet", "encrypt", "--key"},
      {"fernet", "encrypt", "--key", kKey, "--bogus"},
      {"fernet", "encrypt", "--key", kKey, "--key-file", "/x"},
      {"fernet", "encrypt", "--key", "not-a-key"},
      {"fernet", "encrypt", "--key", kKey, "--iv", "00"},
      {"fernet", "encrypt", "--key", kKey, "--now", "soon"},
      {"fernet", "decrypt", "--key", kKey, "--ttl", "-1"},
      {"fernet", "decrypt", "--key", kKey, "stray"},
  };
  for (const auto& args : cases) {
    ProcessResult r = RunCli(args, "");
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ");
    EXPECT_THAT(r.err, HasSubstr("usage:")) << absl::StrJoin(args, " ");
    EXPECT_EQ(r.out, "");
  }
}

TEST(Cli, EveryCommandAnswersHelpAndVersionOnStdout) {
  for (const char* command : {"demo", "serve", "send", "list", "describe", "call",
                              "bench", "bench-server", "keygen", "fernet"}) {
    for (const char* flag : {"--help", "-h"}) {
      ProcessResult r = RunCli({command, flag});
      EXPECT_EQ(r.exit_code, 0) << command << " " << flag << ": " << r.err;
      EXPECT_EQ(r.err, "") << command;
      EXPECT_THAT(r.out, ::testing::StartsWith(
                             absl::StrCat("usage: netstructer ", command)))
          << command;
    }
    // Other flags do not matter, even bad ones.
    ProcessResult mixed = RunCli({command, "--bogus", "--help"});
    EXPECT_EQ(mixed.exit_code, 0) << command;
    ProcessResult version = RunCli({command, "--version"});
    EXPECT_EQ(version.exit_code, 0) << command;
    EXPECT_THAT(version.out, ::testing::StartsWith("netstructer "));
  }
  // Flags with their defaults.
  EXPECT_THAT(RunCli({"send", "--help"}).out, HasSubstr("(default 10s"));
  EXPECT_THAT(RunCli({"serve", "--help"}).out,
              HasSubstr("--max-sessions-per-ip N       default 64"));
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--version"}, {"version"}}) {
    ProcessResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "netstructer 0.3.0 (handshake NSH2, RPC runtime 3)\n");
  }
  ProcessResult no_port = RunCli({"serve", "--listen", ":abc", "--insecure"});
  EXPECT_EQ(no_port.exit_code, 2);
  EXPECT_THAT(no_port.err, ::testing::StartsWith(
                               "INVALID_ARGUMENT: --listen ':abc': the port is not a number"));
  ProcessResult top = RunCli({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_THAT(top.out, HasSubstr("64 + the status code"));
  // After `--`, `--help` is an argument like any other.
  ProcessResult literal = RunCli({"keygen", "--", "--help"});
  EXPECT_EQ(literal.exit_code, 2);
}

TEST(Cli, UsageAndStatusErrorsShareOneFormat) {
  ProcessResult unknown = RunCli({"nonsense"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, ::testing::StartsWith(
                               "INVALID_ARGUMENT: unknown command 'nonsense'\n"
                               "usage: netstructer COMMAND"));
  ProcessResult stray = RunCli({"keygen", "extra"});
  EXPECT_EQ(stray.exit_code, 2);
  EXPECT_THAT(stray.err, ::testing::StartsWith(
                             "INVALID_ARGUMENT: unexpected argument 'extra'\n"
                             "usage: netstructer keygen"));
  // A status error is one line, CODE: message, and 64 + the code.
  RefusingAddress nobody;
  ProcessResult unreachable =
      RunCli({"send", "--to", nobody.str(), "--insecure", "--timeout", "2s", "1"});
  EXPECT_EQ(unreachable.exit_code, ExitFor(absl::StatusCode::kUnavailable))
      << unreachable.err;
  EXPECT_THAT(unreachable.err, ::testing::StartsWith("UNAVAILABLE: "));
  EXPECT_EQ(std::count(unreachable.err.begin(), unreachable.err.end(), '\n'), 1);
}

TEST(Cli, OneDurationSyntaxForEveryDurationFlag) {
  // Accepted: the failure is the connection's (nothing listens), never usage.
  RefusingAddress nobody;
  for (const char* d : {"500ms", "2s", "1m", "2", "0.25"}) {
    ProcessResult r =
        RunCli({"send", "--to", nobody.str(), "--insecure", "--timeout", d, "1"});
    EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kUnavailable)) << d << ": " << r.err;
  }
  // (Each would also fail fast if the duration were accepted: no server
  // listens, the key file is missing, the security mode is bogus.)
  const std::vector<std::vector<std::string>> refused = {
      {"send", "--to", nobody.str(), "--insecure", "--timeout", "soon", "1"},
      {"send", "--to", nobody.str(), "--insecure", "--timeout", "0", "1"},
      {"send", "--to", nobody.str(), "--insecure", "--timeout", "-2s", "1"},
      {"send", "--to", nobody.str(), "--insecure", "--timeout", "inf", "1"},
      {"send", "--to", nobody.str(), "--insecure", "--timeout", "1000000000000s", "1"},
      {"serve", "--listen", "127.0.0.1:0", "--key-file", "/nonexistent",
       "--idle-timeout", "1 m"},
      {"serve", "--listen", "127.0.0.1:0", "--key-file", "/nonexistent",
       "--max-session-lifetime", "x"},
      {"bench", "--security", "bogus", "--seconds", "3 s"},
      {"fernet", "decrypt", "--key", kKey, "--ttl", "1y"},
  };
  for (const auto& args : refused) {
    ProcessResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ");
    EXPECT_THAT(r.err, HasSubstr("is not a duration")) << absl::StrJoin(args, " ");
  }
  // The TTL takes the same syntax (Fernet counts whole seconds).
  ProcessResult enc = RunCli({"fernet", "encrypt", "--key", kKey, "--now", "1000"}, "x");
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_EQ(RunCli({"fernet", "decrypt", "--key", kKey, "--ttl", "1m", "--now", "1059"},
                   enc.out).exit_code, 0);
  EXPECT_EQ(RunCli({"fernet", "decrypt", "--key", kKey, "--ttl", "1m", "--now", "1061"},
                   enc.out).exit_code, ExitFor(absl::StatusCode::kDataLoss));
}

TEST(Cli, ServeListenWithoutAHostListensOnEveryInterface) {
  auto child = ChildProcess::Start({RunfilePath("tools/netstructer"), "serve",
                                    "--listen", ":0", "--insecure"});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::string> line =
      (*child)->WaitForStderr("listening on ", absl::Seconds(20));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(*line, HasSubstr("listening on 0.0.0.0:"));
  const std::string after = line->substr(line->find("0.0.0.0:") + 8);
  const std::string port_digits =
      after.substr(0, after.find_first_not_of("0123456789"));
  ProcessResult sent =
      RunCli({"send", "--to", "127.0.0.1:" + port_digits, "--insecure", "7"});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  absl::StatusOr<std::vector<std::string>> lines =
      (*child)->WaitForStdoutLines(1, absl::Seconds(20));
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(*lines, std::vector<std::string>{"127.0.0.1 7"});
  EXPECT_EQ((*child)->Stop(SIGTERM), 0) << (*child)->err();
}

// A server that answers every connection with `reply` (after the client's
// first bytes) and closes.
class ForeignServer {
 public:
  explicit ForeignServer(std::string reply) : reply_(std::move(reply)) {
    transport::SocketAddress any =
        transport::ResolveAddress("127.0.0.1:0").value();
    listener_ = transport::ListenTcp(any).value();
    address_ = transport::LocalAddress(listener_.fd()).value().ToString();
    thread_ = std::thread([this] {
      for (int i = 0; i < 200 && !done_.load(); ++i) {
        if (!transport::WaitReadable(listener_.fd(),
                                     absl::Now() + absl::Milliseconds(100))) {
          continue;
        }
        absl::StatusOr<transport::Socket> peer =
            transport::AcceptTcp(listener_.fd(), nullptr);
        if (!peer.ok() || !peer->valid()) continue;
        char buf[512];
        transport::WaitReadable(peer->fd(), absl::Now() + absl::Seconds(5));
        (void)!recv(peer->fd(), buf, sizeof(buf), 0);
        (void)!send(peer->fd(), reply_.data(), reply_.size(), MSG_NOSIGNAL);
        return;
      }
    });
  }
  ~ForeignServer() {
    done_ = true;
    thread_.join();
  }
  const std::string& address() const { return address_; }

 private:
  const std::string reply_;
  transport::Socket listener_;
  std::string address_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

TEST(Cli, AServerThatSpeaksHttpOrTlsIsNamedAsSuch) {
  {
    ForeignServer http("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    ProcessResult r = RunCli({"send", "--to", http.address(), "--insecure", "1"});
    EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kDataLoss)) << r.err;
    EXPECT_EQ(r.err,
              "DATA_LOSS: not a NetStructer handshake: the peer speaks HTTP (an "
              "HTTP server's response)\n");
  }
  {
    // A TLS alert record (handshake_failure), what a TLS server sends back.
    ForeignServer tls(std::string("\x15\x03\x03\x00\x02\x02\x28", 7));
    ProcessResult r = RunCli({"send", "--to", tls.address(), "--insecure", "1"});
    EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kDataLoss)) << r.err;
    EXPECT_THAT(r.err, HasSubstr("the peer speaks TLS"));
  }
}

TEST(Cli, DemoRoundTripsTheReadmeValuesAndShowsTheErrors) {
  ProcessResult r = RunCli({"demo"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("  frame 0: ['hi im haytam', 128, {b'gg': 'gg'}, "
                               "{1, 2, 4, 6}, (False, True)]\n"));
  for (const char* falsy : {"  frame 1: 0\n", "  frame 2: ''\n", "  frame 3: []\n",
                            "  frame 4: None\n", "  frame 5: False\n",
                            "  frame 6: b''\n"}) {
    EXPECT_THAT(r.out, HasSubstr(falsy));
  }
  EXPECT_THAT(r.out, HasSubstr("one flipped byte:    0 value(s), then DATA_LOSS: invalid token"));
  EXPECT_THAT(r.out, HasSubstr("a replayed frame:    1 value(s), then DATA_LOSS: frame out of sequence"));
  EXPECT_THAT(r.out, HasSubstr("the wrong key:       0 value(s), then DATA_LOSS: invalid token"));
  EXPECT_THAT(r.out, HasSubstr("a truncated stream:  0 value(s), then DATA_LOSS: truncated frame"));
  EXPECT_THAT(r.out, HasSubstr("  server got: 127.0.0.1 ['hi im haytam', 128, "
                               "{b'gg': 'gg'}, {1, 2, 4, 6}, (False, True)]\n"));
  EXPECT_THAT(r.out, HasSubstr("  server got: 127.0.0.1 None\n"));
  EXPECT_THAT(r.out, HasSubstr("client close: the server confirmed receipt"));
  EXPECT_THAT(r.out, HasSubstr("UNAUTHENTICATED: the server did not accept this key"));
  EXPECT_THAT(r.out, HasSubstr("PERMISSION_DENIED: 127.0.0.2 is denied by rule 127.0.0.2/32"));
  EXPECT_EQ(RunCli({"demo", "extra"}).exit_code, 2);
}

// `serve` in the background, `send` against it.
class ServeAndSend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    key_file_ = WriteKeyFile("serve.key", RunCli({"keygen"}).out, 0600);
  }
  std::unique_ptr<ChildProcess> Serve(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {RunfilePath("tools/netstructer"), "serve",
                                     "--listen", GetParam() + ":0", "--key-file",
                                     key_file_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = ChildProcess::Start(argv);
    EXPECT_TRUE(child.ok());
    absl::StatusOr<std::string> line =
        (*child)->WaitForStderr("listening on ", absl::Seconds(20));
    EXPECT_TRUE(line.ok()) << line.status();
    address_ = line->substr(line->find("listening on ") + 13);
    return *std::move(child);
  }
  std::string key_file_;
  std::string address_;
};

TEST_P(ServeAndSend, ServePrintsEachBufferWithThePeerIp) {
  auto server = Serve();
  ProcessResult sent = RunCli(
      {"send", "--to", address_, "--key-file", key_file_,
       "['hi im haytam',128,{b'gg':'gg'},{1,2,6,4},(False,True)]", "0", "''",
       "None", "b''"});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  absl::StatusOr<std::vector<std::string>> lines =
      server->WaitForStdoutLines(5, absl::Seconds(20));
  ASSERT_TRUE(lines.ok()) << lines.status();
  const std::string ip = GetParam() == "127.0.0.1" ? "127.0.0.1" : "::1";
  EXPECT_EQ(*lines, (std::vector<std::string>{
                        ip + " ['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 4, 6}, (False, True)]",
                        ip + " 0", ip + " ''", ip + " None", ip + " b''"}));
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->err();
}

TEST_P(ServeAndSend, SendFailuresExitWithTheirStatusCode) {
  auto server = Serve({"--deny", GetParam() == "127.0.0.1" ? "127.0.0.0/8" : "::1/128"});
  ProcessResult denied = RunCli({"send", "--to", address_, "--key-file", key_file_, "1"});
  EXPECT_EQ(denied.exit_code, ExitFor(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(denied.err, HasSubstr("PERMISSION_DENIED"));
  auto open_server = Serve();
  const std::string wrong = WriteKeyFile("wrong.key", RunCli({"keygen"}).out, 0600);
  ProcessResult bad_key = RunCli({"send", "--to", address_, "--key-file", wrong, "1"});
  EXPECT_EQ(bad_key.exit_code, ExitFor(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(bad_key.err, HasSubstr("UNAUTHENTICATED: the server did not accept this key"));
  ProcessResult bad_literal =
      RunCli({"send", "--to", address_, "--key-file", key_file_, "[1, 2"});
  EXPECT_EQ(bad_literal.exit_code, ExitFor(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(bad_literal.err, HasSubstr("INVALID_ARGUMENT"));
  open_server->Stop(SIGTERM);
  ProcessResult unreachable = RunCli({"send", "--to", address_, "--key-file", key_file_, "1"});
  EXPECT_EQ(unreachable.exit_code, ExitFor(absl::StatusCode::kUnavailable));
  EXPECT_THAT(unreachable.err, HasSubstr("UNAVAILABLE"));
}

// Key rotation without a restart (docs/SECURITY.md): the new key joins the
// file, SIGHUP, and the server accepts it; a broken file keeps the old ring.
TEST_P(ServeAndSend, SighupReloadsTheKeyFile) {
  auto server = Serve();
  std::string first_key;
  {
    std::ifstream in(key_file_);
    std::getline(in, first_key);
  }
  const std::string new_file =
      WriteKeyFile("new.key", RunCli({"keygen"}).out, 0600);
  std::string new_key;
  {
    std::ifstream in(new_file);
    std::getline(in, new_key);
  }
  EXPECT_THAT(RunCli({"send", "--to", address_, "--key-file", new_file, "1"}).err,
              HasSubstr("UNAUTHENTICATED"));
  WriteKeyFile("serve.key", first_key + "\n" + new_key + "\n", 0600);
  server->Signal(SIGHUP);
  ASSERT_TRUE(server->WaitForStderr("reloaded the key ring", absl::Seconds(20)).ok())
      << server->err();
  ProcessResult with_new =
      RunCli({"send", "--to", address_, "--key-file", new_file, "2"});
  EXPECT_EQ(with_new.exit_code, 0) << with_new.err;
  EXPECT_EQ(RunCli({"send", "--to", address_, "--key-file", key_file_, "3"}).exit_code, 0);
  // A file that does not load changes nothing.
  WriteKeyFile("serve.key", "not a key\n", 0600);
  server->Signal(SIGHUP);
  ASSERT_TRUE(server->WaitForStderr("kept the old key ring", absl::Seconds(20)).ok())
      << server->err();
  EXPECT_EQ(RunCli({"send", "--to", address_, "--key-file", new_file, "4"}).exit_code, 0);
  absl::StatusOr<std::vector<std::string>> lines =
      server->WaitForStdoutLines(3, absl::Seconds(20));
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_THAT(lines->back(), ::testing::EndsWith(" 4"));
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->err();
}

// A frame the connection cannot survive (docs/PROTOCOL.md 3, 3.2) ends that
// session alone, once, with a GOAWAY that says why; the server goes on
// serving and still stops on SIGTERM. (It used to print the error forever,
// burning a core, and ignore SIGTERM: RESOURCE_EXHAUSTED also means "that
// one message was too large", and serve kept reading.)
TEST_P(ServeAndSend, AFrameThatEndsTheConnectionEndsThatSessionOnceWithAGoAway) {
  auto server = Serve();
  absl::StatusOr<std::vector<transport::FernetKey>> keys =
      transport::LoadKeyFile(key_file_);
  ASSERT_TRUE(keys.ok()) << keys.status();
  const std::string local_ip = GetParam() == "127.0.0.1" ? "127.0.0.1" : "::1";
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  struct Case {
    const char* name;
    std::function<absl::Status(RawPeer&)> send;
  };
  const std::vector<Case> cases = {
      {"a length prefix of FF FF FF FF",
       [&](RawPeer& peer) { return peer.SendRaw("\xff\xff\xff\xff", deadline); }},
      {"a COMPRESSED frame declaring 0xFFFFFFFF bytes",
       [&](RawPeer& peer) {
         return peer.SendPrecompressedFrame(
             transport::kBridgeStreamId, transport::FrameType::kData,
             transport::kFlagEndMessage, "\xff\xff\xff\xff\x10\x00", deadline);
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<RawPeer> peer = RawPeer::Connect(address_, GetParam());
    ASSERT_NE(peer, nullptr);
    ASSERT_TRUE(peer->Handshake(keys->front(), deadline).ok());
    ASSERT_TRUE(c.send(*peer).ok());
    ASSERT_TRUE(peer->ReadUntilClosed(deadline));
    const absl::Status goaway = peer->ReceivedGoAway();
    EXPECT_EQ(goaway.code(), absl::StatusCode::kResourceExhausted) << goaway;
    EXPECT_THAT(goaway.message(), HasSubstr("exceeds")) << goaway;
  }
  // A normal client is served as before.
  ProcessResult sent = RunCli({"send", "--to", address_, "--key-file", key_file_,
                               "'still here'"});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  absl::StatusOr<std::vector<std::string>> lines =
      server->WaitForStdoutLines(1, absl::Seconds(20));
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(lines->front(), local_ip + " 'still here'");
  // Each session is reported ended exactly once: the two hostile ones with
  // their error, the client's with its clean close.
  absl::StatusOr<std::vector<std::string>> ended =
      server->WaitForStderrLines(" ended: ", 3, absl::Seconds(20));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->size(), 3u);
  absl::StatusOr<std::vector<std::string>> errors =
      server->WaitForStderrLines("RESOURCE_EXHAUSTED", 2, absl::Seconds(1));
  ASSERT_TRUE(errors.ok()) << errors.status();
  EXPECT_EQ(errors->size(), 2u) << server->err();
  absl::StatusOr<int> code = server->StopWithin(SIGTERM, absl::Seconds(2));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << server->err();
  // Counted again on the whole log, after the exit: nothing was repeated.
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = server->err().find(needle); at != std::string::npos;
         at = server->err().find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count(" ended: "), 3u) << server->err();
  EXPECT_EQ(count("RESOURCE_EXHAUSTED"), 2u) << server->err();
}

// Text from the peer reaches the terminal escaped (docs/PROTOCOL.md 7.5): a
// GOAWAY reason in serve's log, a REFUSAL reason in send's error.
TEST_P(ServeAndSend, APeersTextIsEscapedOnTheTerminal) {
  auto server = Serve();
  absl::StatusOr<std::vector<transport::FernetKey>> keys =
      transport::LoadKeyFile(key_file_);
  ASSERT_TRUE(keys.ok()) << keys.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::unique_ptr<RawPeer> peer = RawPeer::Connect(address_, GetParam());
  ASSERT_NE(peer, nullptr);
  ASSERT_TRUE(peer->Handshake(keys->front(), deadline).ok());
  std::string goaway(1, static_cast<char>(absl::StatusCode::kUnavailable));
  goaway += "bye\x1b[2J\nnetstructer: forged line\xc2\x9b";
  ASSERT_TRUE(peer->SendFrame(transport::kConnectionStreamId,
                              transport::FrameType::kGoAway, 0, goaway, deadline)
                  .ok());
  shutdown(peer->fd(), SHUT_WR);  // The GOAWAY's sender sends nothing more.
  absl::StatusOr<std::vector<std::string>> ended =
      server->WaitForStderrLines(" ended: ", 1, absl::Seconds(20));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_THAT(ended->front(),
              HasSubstr("UNAVAILABLE: bye\\x1b[2J\\x0anetstructer: forged line\\u009b"));
  EXPECT_EQ(server->Stop(SIGTERM), 0);
  EXPECT_EQ(server->err().find('\x1b'), std::string::npos) << server->err();
  EXPECT_EQ(server->err().find("\nnetstructer: forged"), std::string::npos);

  // A server that refuses with a reason holding escape sequences.
  absl::StatusOr<transport::SocketAddress> any =
      transport::ResolveAddress(GetParam() + ":0");
  ASSERT_TRUE(any.ok());
  absl::StatusOr<transport::Socket> listener = transport::ListenTcp(*any);
  ASSERT_TRUE(listener.ok()) << listener.status();
  const std::string address =
      transport::LocalAddress(listener->fd()).value().ToString();
  std::thread refuser([&] {
    transport::Socket conn;
    while (!conn.valid()) {
      if (!transport::WaitReadable(listener->fd(), deadline)) return;
      absl::StatusOr<transport::Socket> accepted =
          transport::AcceptTcp(listener->fd(), nullptr);
      if (!accepted.ok()) return;
      conn = *std::move(accepted);
    }
    if (!transport::ReadOneFrame(conn.fd(), deadline).ok()) return;  // Hello.
    transport::FrameSealer plain = transport::FrameSealer::Insecure();
    std::string out;
    (void)plain.Seal(transport::kConnectionStreamId, transport::FrameType::kRefusal, 0,
                     transport::EncodeRefusal(absl::StatusCode::kPermissionDenied,
                                              "\x1b[31mred\nnetstructer send: ok"),
                     false, 0, &out);
    (void)transport::WriteAll(conn.fd(), out, deadline);
  });
  ProcessResult sent =
      RunCli({"send", "--to", address, "--key-file", key_file_, "1"});
  refuser.join();
  EXPECT_EQ(sent.exit_code, ExitFor(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(sent.err,
              HasSubstr("PERMISSION_DENIED: \\x1b[31mred\\x0anetstructer send: ok"));
  EXPECT_EQ(sent.err.find('\x1b'), std::string::npos) << sent.err;
}

// Revocation without a restart (docs/SECURITY.md): serve logs which key each
// session uses; after the key leaves the file, SIGHUP closes its sessions
// and says how many, and the peer is told why.
TEST_P(ServeAndSend, SighupClosesTheSessionsOfARemovedKeyAndLogsWhichKeyEachUses) {
  const std::string kept = RunCli({"keygen"}).out;
  const std::string leaked = RunCli({"keygen"}).out;
  WriteKeyFile("serve.key", kept + leaked, 0600);
  auto server = Serve();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::unique_ptr<RawPeer> peer = RawPeer::Connect(address_, GetParam());
  ASSERT_NE(peer, nullptr);
  const transport::FernetKey leaked_key =
      transport::FernetKey::Parse(absl::StripAsciiWhitespace(leaked)).value();
  ASSERT_TRUE(peer->Handshake(leaked_key, deadline).ok());
  ASSERT_TRUE(server->WaitForStderr("(key 1)", absl::Seconds(20)).ok()) << server->err();
  WriteKeyFile("serve.key", kept, 0600);
  server->Signal(SIGHUP);
  absl::StatusOr<std::string> reloaded =
      server->WaitForStderr("reloaded the key ring", absl::Seconds(20));
  ASSERT_TRUE(reloaded.ok()) << server->err();
  EXPECT_THAT(*reloaded, HasSubstr("closed 1 session(s)"));
  ASSERT_TRUE(peer->ReadUntilClosed(deadline));
  const absl::Status goaway = peer->ReceivedGoAway();
  EXPECT_EQ(goaway.code(), absl::StatusCode::kUnauthenticated) << goaway;
  EXPECT_THAT(std::string(goaway.message()), HasSubstr("revoked"));
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->err();
}

TEST_P(ServeAndSend, MaxSessionLifetimeEndsASessionWithAReason) {
  auto server = Serve({"--max-session-lifetime", "0.3"});
  absl::StatusOr<std::vector<transport::FernetKey>> keys =
      transport::LoadKeyFile(key_file_);
  ASSERT_TRUE(keys.ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::unique_ptr<RawPeer> peer = RawPeer::Connect(address_, GetParam());
  ASSERT_NE(peer, nullptr);
  ASSERT_TRUE(peer->Handshake(keys->front(), deadline).ok());
  ASSERT_TRUE(peer->ReadUntilClosed(deadline));
  const absl::Status goaway = peer->ReceivedGoAway();
  EXPECT_EQ(goaway.code(), absl::StatusCode::kUnavailable) << goaway;
  EXPECT_THAT(std::string(goaway.message()), HasSubstr("max_lifetime"));
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->err();
}

INSTANTIATE_TEST_SUITE_P(V4AndV6, ServeAndSend, ::testing::Values("127.0.0.1", "[::1]"),
                         [](const auto& info) {
                           return std::string(info.param == "127.0.0.1" ? "V4" : "V6");
                         });

TEST(Cli, ServeRefusesAKeyFileOthersCanRead) {
  const std::string path = WriteKeyFile("serve_open.key", kKey, 0644);
  ProcessResult r = RunCli({"serve", "--listen", "127.0.0.1:0", "--key-file", path});
  EXPECT_EQ(r.exit_code, ExitFor(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(r.err, HasSubstr("chmod 600"));
}

TEST(Cli, ServeAndSendUsageErrorsExit2) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"serve"},
           {"serve", "--listen", "127.0.0.1:0"},
           {"serve", "--listen", "127.0.0.1:0", "--insecure", "--deny", "10.0.0.1/8"},
           {"serve", "--listen", "127.0.0.1:0", "--insecure", "--bogus"},
           {"serve", "--listen", "127.0.0.1:0", "--insecure",
            "--max-session-lifetime", "0"},
           {"serve", "--listen", "127.0.0.1:0", "--insecure",
            "--max-session-lifetime", "nan"},
           {"send", "--to", "127.0.0.1:1", "--insecure"},
           {"send", "--key-file", "/x", "1"},
       }) {
    ProcessResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ") << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("usage:"));
  }
}

}  // namespace
}  // namespace netstructer
