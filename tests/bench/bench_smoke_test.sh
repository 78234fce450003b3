#!/bin/bash
# `netstructer bench` with tiny windows: exit 0 and exactly one JSON line per
# (workload, security[, concurrency]) with the fields shared/bench/WORKLOADS.md requires and
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

# The connection workloads, when named: one line per (workload, security,
# concurrency) with their own fields.
"$NS" bench --seconds 0.2 --warmup 0.05 --workloads W5,W6,W6idle \
  --w5-conns 1,3 --w6-openers 2 --w6-idle-conns 5 --security both \
  >"$T/conn.jsonl" 2>"$T/err.txt" || {
  echo "netstructer bench (W5, W6) failed:"; cat "$T/err.txt"; exit 1; }
python3 - "$T/conn.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
got = sorted((o["workload"], o["security"], o["concurrency"]) for o in lines)
want = sorted((w, s, c) for s in ("insecure", "fernet")
              for w, c in (("W5", 1), ("W5", 3), ("W6", 2), ("W6idle", 1)))
assert got == want, got
for o in lines:
    assert o["payload_bytes"] == 64 and o["calls"] > 0, o
    assert "per-IP cap and rate limit off" in o["server_api"], o
    if o["workload"] == "W5":
        assert o["connections"] == o["concurrency"], o
        assert o["client_threads"] == 2 and o["client_io_threads"] >= 1, o
        # Every connection was served; the server held them all at once.
        assert 0 < o["conn_calls_min"] <= o["conn_calls_max"], o
        assert o["server_fds_setup"] >= o["connections"], o
        assert o["server_rss_setup_kib"] > 0, o
        for f in ("server_cpu_s_per_1k_calls", "host_busy_cpu_s",
                  "host_other_cpu_s"):
            assert isinstance(o[f], (int, float)), (f, o)
    elif o["workload"] == "W6":
        assert o["connections_per_s"] == round(o["calls"] / o["seconds"], 1), o
        assert o["close_p50_us"] > 0, o
        assert o["latency_measures"] == "connect+handshake+call", o
        assert o["server_cpu_us_per_conn"] >= 0, o
    else:
        assert o["connections"] == 5 and o["calls"] == 5, o
        assert o["server_rss_after_kib"] > 0 and o["server_rss_before_kib"] > 0, o
        assert isinstance(o["rss_per_conn_kib"], (int, float)), o
        assert isinstance(o["server_fds_delta"], int), o
print(f"{len(lines)} connection lines ok")
PY

# W1 under a handshake flood: every hello of the flood was refused.
"$NS" bench --seconds 0.2 --warmup 0.05 --workloads W1flood --flood-rate 200 \
  --security fernet >"$T/flood.jsonl" 2>"$T/err.txt" || {
  echo "netstructer bench (W1flood) failed:"; cat "$T/err.txt"; exit 1; }
python3 - "$T/flood.jsonl" <<'PY'
import json, sys
(o,) = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
assert o["workload"] == "W1flood" and o["security"] == "fernet", o
assert o["calls"] > 0 and 0 < o["p50_us"] <= o["p99_us"], o
assert o["flood_hellos_per_s_target"] == 200, o
assert 0 < o["flood_refused"] <= o["flood_hellos_sent"], o
print("flood line ok")
PY

# Usage errors exit 2 and print the usage.
set +e
"$NS" bench --workloads W7 >/dev/null 2>"$T/usage.txt"
rc=$?
set -e
[[ $rc == 2 ]] || { echo "bad workload: exit $rc, want 2"; exit 1; }
grep -q "unknown workload 'W7'" "$T/usage.txt"
set +e
"$NS" bench --workloads W5 --w5-conns 0 >/dev/null 2>"$T/usage.txt"
rc=$?
set -e
[[ $rc == 2 ]] || { echo "bad --w5-conns: exit $rc, want 2"; exit 1; }
grep -q "w5-conns takes counts" "$T/usage.txt"

# protobuf_like without the shared corpus file (a fresh clone): generated in
# process, and the run works.
mkdir -p "$T/empty"
BENCH_BUILD="$T/empty" "$NS" bench --content protobuf_like --seconds 0.1 \
  --warmup 0.05 --w3-calls 4 --w3-warmup-calls 1 --workloads W1,W3 \
  --security insecure >"$T/out2.txt" 2>"$T/err2.txt" ||
  { echo "protobuf_like without the corpus file failed:"; cat "$T/err2.txt"; exit 1; }
[[ $(grep -c '"content": *"protobuf_like"' "$T/out2.txt") == 2 ]] ||
  { echo "want 2 protobuf_like lines:"; cat "$T/out2.txt"; exit 1; }

# The server half refuses to run without a mode.
set +e
"$NS" bench-server </dev/null >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || { echo "bench-server without flags: exit $rc, want 2"; exit 1; }
echo PASS
