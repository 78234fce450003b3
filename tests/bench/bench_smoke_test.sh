#!/bin/bash
# `netstructer bench` with tiny windows: exit 0 and exactly one JSON line per
# (workload, security) with the fields shared/bench/WORKLOADS.md requires and
# sane (not timed) values; usage and missing-corpus errors. Usage:
# bench_smoke_test.sh PATH_TO_NETSTRUCTER
set -euo pipefail
NS=$1
T=${TEST_TMPDIR:-$(mktemp -d)}

"$NS" bench --seconds 0.2 --warmup 0.05 --w3-calls 10 --w3-warmup-calls 2 \
  --workloads W1,W2,W3,W4 --security both >"$T/out.jsonl" 2>"$T/err.txt" || {
  echo "netstructer bench failed:"; cat "$T/err.txt"; exit 1; }

python3 - "$T/out.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 8, f"expected 8 lines, got {len(lines)}: {lines}"
required = ["system", "workload", "security", "payload_bytes", "concurrency",
            "calls", "seconds", "qps", "mib_per_s", "p50_us", "p99_us"]
recommended = ["bytes_counted", "client_api", "server_api", "compression",
               "client_cpu_s", "server_cpu_s", "cpu_us_per_call",
               "server_peak_rss_kib"]
sizes = {"W1": 64, "W2": 64, "W3": 1048576, "W4": 16384}
seen = set()
for line in lines:
    o = json.loads(line)  # Only JSON on stdout.
    for f in required + recommended:
        assert f in o, f"missing {f}: {line}"
    assert o["system"] == "netstructer", line
    assert o["security"] in ("insecure", "fernet"), line
    w = o["workload"]
    seen.add((w, o["security"]))
    assert o["payload_bytes"] == sizes[w], line
    assert o["concurrency"] == (32 if w == "W2" else 1), line
    assert o["calls"] > 0 and o["seconds"] > 0, line
    assert o["qps"] > 0 and o["mib_per_s"] > 0, line
    if w == "W3":
        assert o["calls"] == 10, line
    if w == "W4":
        assert o["p50_us"] is None and o["p99_us"] is None, line
    else:
        assert 0 < o["p50_us"] <= o["p99_us"], line
    assert o["client_cpu_s"] >= 0 and o["server_cpu_s"] >= 0, line
    assert o["server_peak_rss_kib"] > 0, line
    assert o["content"] == "random", line
want = {(w, s) for w in sizes for s in ("insecure", "fernet")}
assert seen == want, f"got {sorted(seen)}"
print("8 lines ok")
PY

# Usage errors exit 2 and print the usage.
set +e
"$NS" bench --workloads W5 >/dev/null 2>"$T/usage.txt"
rc=$?
set -e
[[ $rc == 2 ]] || { echo "bad workload: exit $rc, want 2"; exit 1; }
grep -q "unknown workload 'W5'" "$T/usage.txt"

# protobuf_like without the corpus: exit 1 naming the script that makes it.
mkdir -p "$T/empty"
set +e
BENCH_BUILD="$T/empty" "$NS" bench --content protobuf_like --seconds 0.1 \
  >"$T/out2.txt" 2>"$T/err2.txt"
rc=$?
set -e
[[ $rc == 1 ]] || { echo "missing corpus: exit $rc, want 1"; exit 1; }
grep -q "limits/run.sh" "$T/err2.txt"
[[ ! -s "$T/out2.txt" ]]

# The server half refuses to run without a mode.
set +e
"$NS" bench-server </dev/null >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || { echo "bench-server without flags: exit $rc, want 2"; exit 1; }
echo PASS
