#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on a copy of its seed corpus:
# the NAME_fuzz_run_test targets (tagged manual, so `bazel test //...` skips
# them), which `.ci/run` runs under --config=fuzz for 30 seconds each.
#   fuzz_run.sh FUZZER_BINARY CORPUS_DIR
# FUZZ_SECONDS (default 30) is the time budget. Exits non-zero when libFuzzer
# found a crash, leak, timeout or out-of-memory; the input it found is kept in
# the test's undeclared outputs (bazel-testlogs/.../test.outputs/).
set -euo pipefail
fuzzer=$1
corpus=$2
seconds=${FUZZ_SECONDS:-30}
work=${TEST_TMPDIR:-$(mktemp -d)}/corpus
artifacts=${TEST_UNDECLARED_OUTPUTS_DIR:-$work/..}/
mkdir -p "$work"
cp "$corpus"/* "$work"/
# Under the normal configuration the binary is the corpus replayer, not
# libFuzzer; a fuzz run then means nothing, so say so and fail.
help=$("$fuzzer" -help=1 2>&1 || true)
if [[ $help != *libFuzzer* ]]; then
  echo "$fuzzer is not a libFuzzer binary: build with --config=fuzz" >&2
  exit 1
fi
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
  -print_final_stats=1 -artifact_prefix="$artifacts" "$work"
