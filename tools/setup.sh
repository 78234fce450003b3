#!/usr/bin/env bash
# Installs every Debian package NetStructer's build, tests and tools need.
# Idempotent: packages already present are skipped; safe to run repeatedly.
set -euo pipefail

PACKAGES=(
  # Build: Bazel 4.2.3 and the rules_java it insists on.
  bazel-bootstrap bazel-rules-java
  # Compilers: g++ for the default build, clang-14 for sanitizers and fuzzing.
  g++ clang-14 libclang-rt-14-dev lld-14
  # Libraries, wired into Bazel by third_party/.
  protobuf-compiler libprotobuf-dev libprotoc-dev
  libssl-dev liblz4-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # Independent peers for interop tests (called as /usr/bin/python3).
  python3 python3-cryptography python3-lz4 python3-protobuf
  # Benchmark peer (shared/bench/peers/grpc) and tooling.
  libgrpc++-dev protobuf-compiler-grpc pkg-config openssl valgrind
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all ${#PACKAGES[@]} packages present" >&2
