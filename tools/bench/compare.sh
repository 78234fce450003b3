#!/usr/bin/env bash
# `netstructer bench` beside a peer benchmark (default: the gRPC C++ peer,
# ../shared/bench/peers/grpc/run.sh from the repository root), alternately,
# N rounds each, on this machine; then medians and ratios (compare.py).
#
# Usage: tools/bench/compare.sh [PEER_RUN_SH] [--rounds N] [--seconds S]
#                               [--content random|protobuf_like] [--out DIR]
#                               [--workloads LIST] [--w5-conns LIST]
#                               [--w6-openers LIST] [--w6-idle-conns N]
#   --rounds N   rounds of each system, alternating ours, peer (default 3)
#   --seconds S  passed to both (default: theirs, 3 s)
#   --content C  ours only (gRPC does not compress: its numbers stand)
#   --workloads  passed to both (default: W1-W4; e.g. W5,W6,W6idle for the
#                connection workloads, which the gRPC peer names W5,W6)
#   --w5-conns, --w6-openers, --w6-idle-conns  passed to both
#   --out DIR    raw JSON lines go here
#                (default /tmp/netstructer-bench/compare-<UTC timestamp>)
# Builds //tools:netstructer once with -c opt and runs a copy of the binary,
# so a concurrent bazel command cannot swap it mid-run. Without a peer
# script it runs ours only. Runtime: ~25 s per round of each system at 3 s.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PEER=""
ROUNDS=3
OUT=""
WORKLOADS=""
OURS_ARGS=()
PEER_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) OURS_ARGS+=(--seconds "$2"); PEER_ARGS+=(--seconds "$2"); shift 2 ;;
    --content) OURS_ARGS+=(--content "$2"); shift 2 ;;
    --workloads) WORKLOADS=$2; shift 2 ;;
    --w5-conns|--w6-openers|--w6-idle-conns)
      OURS_ARGS+=("$1" "$2"); PEER_ARGS+=("$1" "$2"); shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "compare.sh: unknown flag $1" >&2; exit 2 ;;
    *) PEER=$1; shift ;;
  esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --rounds takes a count >= 1" >&2; exit 2; }
if [[ -z $PEER && -x "$ROOT/../shared/bench/peers/grpc/run.sh" ]]; then
  PEER="$ROOT/../shared/bench/peers/grpc/run.sh"
fi
if [[ -n $PEER && ! -x $PEER ]]; then
  echo "compare.sh: $PEER is not an executable peer script" >&2; exit 2
fi
RSS_ARGS=("${PEER_ARGS[@]}")  # peer_rss.py runs W3 itself.
WANT_RSS=1
if [[ -n $WORKLOADS ]]; then
  OURS_ARGS+=(--workloads "$WORKLOADS")
  # The gRPC peer's W6 includes W6idle and knows no W6idle of its own;
  # W1flood is ours alone (compare.py sets it beside our W1).
  peer_list=$(tr ',' '\n' <<<"$WORKLOADS" | sed 's/^W6idle$/W6/' |
    grep -v '^W1flood$' | sort -u | paste -sd, - || true)
  if [[ -z $peer_list ]]; then
    PEER=""
  else
    PEER_ARGS+=(--workloads "$peer_list")
  fi
  [[ ,$WORKLOADS, == *,W3,* ]] || WANT_RSS=0
fi
OUT=${OUT:-${BENCH_BUILD:-/tmp/netstructer-bench}/compare-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"

cd "$ROOT"
echo "building //tools:netstructer (-c opt)" >&2
bazel build -c opt //tools:netstructer >&2
# bazel-bin follows the last command's configuration; ask for opt's.
cp -f "$(bazel info -c opt bazel-bin 2>/dev/null)/tools/netstructer" "$OUT/netstructer"
chmod u+w "$OUT/netstructer"

{
  echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(nproc) CPUs, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "netstructer: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' + local changes')"
  echo "peer: ${PEER:-none}"
  echo "ours args: ${OURS_ARGS[*]:-} ; peer args: ${PEER_ARGS[*]:-}"
  echo "rounds: $ROUNDS"
} >"$OUT/meta.txt"

for ((i = 1; i <= ROUNDS; i++)); do
  echo "round $i/$ROUNDS: netstructer" >&2
  "$OUT/netstructer" bench "${OURS_ARGS[@]}" >"$OUT/ours-$i.jsonl"
  if [[ -n $PEER ]]; then
    echo "round $i/$ROUNDS: peer ($PEER)" >&2
    "$PEER" "${PEER_ARGS[@]}" >"$OUT/peer-$i.jsonl"
    # The peer does not report its server's memory: W3 once more per mode,
    # its server's VmHWM sampled from outside (gRPC peer's flags).
    if ((WANT_RSS)); then
      echo "round $i/$ROUNDS: peer server RSS in W3 (peer_rss.py)" >&2
      python3 "$ROOT/tools/bench/peer_rss.py" "$PEER" "${RSS_ARGS[@]}" \
        >"$OUT/peer-rss-$i.jsonl" ||
        echo "compare.sh: peer_rss.py failed; the RSS row stays n/a" >&2
    fi
  fi
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"

echo "raw results: $OUT" >&2
python3 "$ROOT/tools/bench/compare.py" "$OUT"
