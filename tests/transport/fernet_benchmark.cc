// Micro-benchmarks of Fernet seal and open on binary tokens, comparable with
// the `framecost` rows of shared/bench/limits (a plain C seal/open on the same
// OpenSSL). Not a test: run it by hand,
//   bazel run -c opt //tests/transport:fernet_benchmark
#include <string>

#include "benchmark/benchmark.h"
#include "netstructer/transport/fernet.h"

namespace netstructer::transport {
namespace {

constexpr int64_t kNow = 1700000000;

std::string Payload(size_t n) {
  std::string s(n, '\0');
  uint64_t x = 42;  // xorshift64*, as shared/bench/WORKLOADS.md.
  for (size_t i = 0; i < n; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s[i] = static_cast<char>((x * 2685821657736338717ULL) >> 56);
  }
  return s;
}

void BM_Seal(benchmark::State& state) {
  Fernet f(FernetKey::Generate().value());
  const std::string plaintext = Payload(static_cast<size_t>(state.range(0)));
  std::string token;
  token.reserve(FernetTokenBytes(plaintext.size()));
  for (auto _ : state) {
    token.clear();
    if (!f.SealTo(plaintext, kNow, &token).ok()) state.SkipWithError("seal");
    benchmark::DoNotOptimize(token.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_Open(benchmark::State& state) {
  Fernet f(FernetKey::Generate().value());
  const std::string plaintext = Payload(static_cast<size_t>(state.range(0)));
  const std::string token = f.Seal(plaintext, kNow).value();
  std::string out;
  out.reserve(plaintext.size() + 16);
  FernetOpenOptions options;
  options.now_unix_seconds = kNow;
  for (auto _ : state) {
    out.clear();
    if (!f.OpenTo(token, options, &out).ok()) state.SkipWithError("open");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

BENCHMARK(BM_Seal)->Arg(64)->Arg(1024)->Arg(16384)->Arg(1 << 20);
BENCHMARK(BM_Open)->Arg(64)->Arg(1024)->Arg(16384)->Arg(1 << 20);

}  // namespace
}  // namespace netstructer::transport
