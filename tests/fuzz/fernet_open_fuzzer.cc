// Fuzzes Fernet::Open and the strict base64url token parser with hostile
// tokens. Invariants: never crash; an opened plaintext is shorter than its
// token; a sealed input always opens to itself; the text form round-trips.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "netstructer/transport/fernet.h"

namespace {

using netstructer::transport::Fernet;
using netstructer::transport::FernetKey;
using netstructer::transport::FernetOpenOptions;

Fernet& TheFernet() {
  static Fernet* fernet = new Fernet(
      FernetKey::Parse("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").value());
  return *fernet;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  Fernet& fernet = TheFernet();
  FernetOpenOptions options;
  options.now_unix_seconds = 1700000000;
  if ((data[0] & 1) != 0) options.ttl_seconds = data[0] >> 1;

  // 1. The input as a binary token.
  absl::StatusOr<std::string> opened = fernet.Open(input, options);
  if (opened.ok() && opened->size() >= input.size()) abort();
  if (!opened.ok() && opened.status().message() != "invalid token") abort();

  // 2. The input as a text token.
  absl::StatusOr<std::string> binary =
      netstructer::transport::TokenFromBase64(input);
  if (binary.ok()) {
    (void)fernet.Open(*binary, options);
    if (netstructer::transport::TokenFromBase64(
            netstructer::transport::TokenToBase64(*binary))
            .value() != *binary) {
      abort();
    }
  }

  // 3. The input as a plaintext: seal, then open.
  absl::StatusOr<std::string> token = fernet.Seal(input, 1700000000);
  if (!token.ok()) abort();
  FernetOpenOptions now;
  now.now_unix_seconds = 1700000000;
  if (fernet.Open(*token, now).value() != input) abort();
  return 0;
}
