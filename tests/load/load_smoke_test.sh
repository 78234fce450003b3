#!/bin/bash
# `load` with 20 connections for a few seconds, Fernet and insecure: exit 0
# and one JSON line with every kind of traffic counted, zero errors and
# mismatches, the server's counts agreeing, an RSS sample per second (too
# short a run for the flatness verdict: null). Then usage errors (exit 2)
# and the hard limit (exit 1, timed_out). Usage: load_smoke_test.sh LOAD
set -euo pipefail
LOAD=$1
T=${TEST_TMPDIR:-$(mktemp -d)}

check() {  # check FILE SECURITY SECONDS
  python3 - "$@" <<'PY'
import json, sys
path, security, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(path).read().splitlines()
assert len(lines) == 1, f"expected one line, got {lines}"
o = json.loads(lines[0])
kinds = ["unary", "server_stream", "client_stream", "bidi", "bridge"]
assert o["tool"] == "netstructer-load" and o["ok"] is True, o
assert o["security"] == security and o["connections"] == 20, o
assert o["mix"] == {"unary": 8, "server_stream": 2, "client_stream": 2,
                    "bidi": 4, "bridge": 4}, o["mix"]
assert o["errors"] == 0 and o["mismatches"] == 0 and o["failures"] == [], o
for k in kinds:
    assert o["calls"][k] > 0 and o["messages"][k] > 0, (k, o["calls"])
    assert o["bytes"][k] >= 16 * o["messages"][k], (k, o["bytes"])
s = o["server"]
assert s["sessions_at_start"] == 20 and s["bridge_sessions"] == 4, s
assert s["errors"] == 0 and s["mismatches"] == 0, s
assert s["counts_agree"] is True and s["disagreement"] == "", s
assert s["exit"] == "ok", s
for series in ["rss_kib", "heap_in_use_kib", "heap_free_kib"]:
    for side in ["server", "client"]:
        v = o[series][side]
        assert len(v) == seconds + 1, (series, side, v)
for side in ["server", "client"]:
    assert all(x > 0 for x in o["rss_kib"][side]), o["rss_kib"]
    assert o["rss"][side]["flat"] is None, o["rss"]  # Shorter than 2 x warm-up.
assert o["rss_flat"] is None and o["timed_out"] is False, o
assert o["run_error"] == "", o
assert len(o["calls_per_second"]) == seconds, o["calls_per_second"]
# The client's 20 connections share the process's loops (one per core), not
# a thread each: its 4 driver threads, the main thread, the loops, a few
# sealing helpers.
assert o["threads_max"]["server"] > 0, o
assert o["threads"] + 1 < o["threads_max"]["client"] < 20, o
print(security, "ok:", o["calls"])
PY
}

"$LOAD" --connections 20 --seconds 3 --threads 4 >"$T/fernet.json" \
  2>"$T/fernet.err" || { echo "load (fernet) failed:"; cat "$T/fernet.json" "$T/fernet.err"; exit 1; }
check "$T/fernet.json" fernet 3

"$LOAD" --connections 20 --seconds 2 --security insecure >"$T/insecure.json" \
  2>"$T/insecure.err" || { echo "load (insecure) failed:"; cat "$T/insecure.json" "$T/insecure.err"; exit 1; }
check "$T/insecure.json" insecure 2

# Usage errors exit 2 and say what is wrong.
for bad in "--connections 5" "--security tls" "--seconds 0" "--unary-in-flight 65" \
           "--key-file x" "extra"; do
  set +e
  # shellcheck disable=SC2086
  "$LOAD" $bad >"$T/usage.out" 2>"$T/usage.err"
  rc=$?
  set -e
  [[ $rc == 2 ]] || { echo "load $bad: exit $rc, want 2"; exit 1; }
  grep -q "^usage: load" "$T/usage.err"
  [[ ! -s "$T/usage.out" ]]
done

# The hard limit: a run that cannot finish within seconds + grace reports
# what it has and exits 1 rather than hanging.
set +e
"$LOAD" --connections 10 --seconds 1 --grace 0.001 >"$T/late.json" 2>"$T/late.err"
rc=$?
set -e
[[ $rc == 1 ]] || { echo "hard limit: exit $rc, want 1"; cat "$T/late.json"; exit 1; }
python3 - "$T/late.json" <<'PY'
import json, sys
o = json.loads(open(sys.argv[1]).read())
assert o["ok"] is False and o["timed_out"] is True, o
assert "hard limit" in o["run_error"], o["run_error"]
PY
echo PASS
