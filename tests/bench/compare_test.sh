#!/usr/bin/env bash
# tools/bench/peer_rss.py and compare.py on a fake peer: the sampled RSS is
# the peer server's (a child holding ~40 MiB), and compare.py puts it in the
# W3 RSS row beside ours without counting the RSS runs as rounds.
set -euo pipefail
PEER_RSS=$1
COMPARE=$2
T=${TEST_TMPDIR:-$(mktemp -d)}

cat >"$T/fake_peer.sh" <<'PEER'
#!/usr/bin/env bash
# Usage: fake_peer.sh --workloads W3 --modes MODE
mode=insecure
while [[ $# -gt 0 ]]; do
  case "$1" in --modes) mode=$2; shift 2 ;; *) shift ;; esac
done
# The "server": a child that touches 40 MiB, then waits a little.
python3 -c 'import time; b = bytearray(40 << 20); b[::4096] = b"x" * len(b[::4096]); time.sleep(0.4)' &
wait
echo "{\"system\":\"fake-peer\",\"workload\":\"W3\",\"security\":\"$mode\",\"mib_per_s\":1.0,\"calls\":1}"
PEER
chmod +x "$T/fake_peer.sh"

python3 "$PEER_RSS" "$T/fake_peer.sh" >"$T/rss.jsonl"
cat "$T/rss.jsonl"
python3 - "$T/rss.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["security"] for l in lines] == ["insecure", "tls"], lines
for l in lines:
    assert l["system"] == "fake-peer" and l["workload"] == "W3", l
    # 40 MiB touched, plus the interpreter; well under what two would hold.
    assert 40 * 1024 <= l["server_peak_rss_kib"] < 200 * 1024, l
    assert "mib_per_s" not in l, "the extra run's figures must stay out"
PY

# compare.py: ours 20 MiB, the peer's server 40+ MiB -> a ratio below 1.
D="$T/cmp"; mkdir -p "$D"
for mode in fernet insecure; do
  echo "{\"system\":\"netstructer\",\"workload\":\"W3\",\"security\":\"$mode\",\"mib_per_s\":400,\"server_peak_rss_kib\":20480}"
done >"$D/ours-1.jsonl"
for mode in tls insecure; do
  echo "{\"system\":\"fake-peer\",\"workload\":\"W3\",\"security\":\"$mode\",\"mib_per_s\":200}"
done >"$D/peer-1.jsonl"
cp "$T/rss.jsonl" "$D/peer-rss-1.jsonl"
python3 "$COMPARE" "$D" >"$T/table.md"
cat "$T/table.md"
grep -q "fake-peer (1 runs)" "$T/table.md"
grep -Eq '^\| W3 \|  \| server_peak_rss_kib \| lower \| fernet \| tls \| 20480 \| [0-9]+ \| 0\.[0-9]+ \|$' "$T/table.md"
grep -Eq '^\| W3 \|  \| mib_per_s \| higher \| fernet \| tls \| 400 \| 200 \| 2\.00 \|$' "$T/table.md"

# The connection workloads: W5 and W6 compared at each concurrency, W5's
# fairness (fewest / most calls of a connection) computed per line; W6idle
# against the peer's W6idle line.
D="$T/cmp56"; mkdir -p "$D"
{
  for c in 16 256; do
    echo "{\"system\":\"netstructer\",\"workload\":\"W5\",\"security\":\"fernet\",\"concurrency\":$c,\"qps\":$((c * 100)),\"conn_calls_min\":50,\"conn_calls_max\":100}"
  done
  echo '{"system":"netstructer","workload":"W6","security":"fernet","concurrency":8,"connections_per_s":2000,"close_p50_us":200}'
  echo '{"system":"netstructer","workload":"W6idle","security":"fernet","concurrency":1,"rss_per_conn_kib":8}'
} >"$D/ours-1.jsonl"
{
  for c in 16 256; do
    echo "{\"system\":\"fake-peer\",\"workload\":\"W5\",\"security\":\"tls\",\"concurrency\":$c,\"qps\":$((c * 50)),\"conn_calls_min\":99,\"conn_calls_max\":100}"
  done
  echo '{"system":"fake-peer","workload":"W6","security":"tls","concurrency":8,"connections_per_s":500,"close_p50_us":100}'
  echo '{"system":"fake-peer","workload":"W6idle","security":"tls","concurrency":1,"rss_per_conn_kib":80}'
} >"$D/peer-1.jsonl"
python3 "$COMPARE" "$D" >"$T/table56.md"
cat "$T/table56.md"
grep -Eq '^\| W5 \| 16 \| qps \| higher \| fernet \| tls \| 1600 \| 800 \| 2\.00 \|$' "$T/table56.md"
grep -Eq '^\| W5 \| 256 \| qps \| higher \| fernet \| tls \| 25600 \| 12800 \| 2\.00 \|$' "$T/table56.md"
grep -Eq '^\| W5 \| 256 \| fairness \| higher \| fernet \| tls \| 0\.5 \| 0\.99 \| 0\.51 \|$' "$T/table56.md"
grep -Eq '^\| W6 \| 8 \| connections_per_s \| higher \| fernet \| tls \| 2000 \| 500 \| 4\.00 \|$' "$T/table56.md"
grep -Eq '^\| W6 \| 8 \| close_p50_us \| lower \| fernet \| tls \| 200 \| 100 \| 2\.00 \|$' "$T/table56.md"
grep -Eq '^\| W6idle \|  \| rss_per_conn_kib \| lower \| fernet \| tls \| 8 \| 80 \| 0\.10 \|$' "$T/table56.md"
# W1flood beside our own W1.
D="$T/cmpflood"; mkdir -p "$D"
{
  echo '{"system":"netstructer","workload":"W1","security":"fernet","p99_us":100}'
  echo '{"system":"netstructer","workload":"W1flood","security":"fernet","p99_us":150}'
} >"$D/ours-1.jsonl"
echo '{"system":"fake-peer","workload":"W1","security":"tls","p99_us":200}' >"$D/peer-1.jsonl"
python3 "$COMPARE" "$D" >"$T/tableflood.md"
cat "$T/tableflood.md"
grep -Eq '^\| fernet \| 100 \| 150 \| 1\.50 \|$' "$T/tableflood.md"
if grep -Eq '^\| W1 ' "$T/table56.md"; then
  echo "compare.py listed a workload nobody ran"; exit 1
fi

# A peer that fails is an error, not an empty result.
printf '#!/bin/sh\nexit 3\n' >"$T/broken_peer.sh"; chmod +x "$T/broken_peer.sh"
if python3 "$PEER_RSS" "$T/broken_peer.sh" 2>"$T/err.txt"; then
  echo "peer_rss.py accepted a failing peer"; exit 1
fi
grep -q "exited with 3" "$T/err.txt"
echo PASS
