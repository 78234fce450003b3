#!/usr/bin/env python3
"""Peak RSS of a peer's server process during W3, sampled from outside.

Usage: peer_rss.py PEER_RUN_SH [PEER_ARGS...]
  Runs the peer once per security mode with `--workloads W3 --modes MODE`
  (the gRPC peer's flags), while reading VmHWM (the kernel's high-water mark
  of resident memory) of every process the peer started, every 10 ms, until
  it exits. The peer's server is its one child process (the gRPC peer
  re-executes itself with --serve), so its VmHWM is the server's peak, with
  a fresh server per mode as `netstructer bench` has. Prints one JSON line
  per mode: system, workload, security (from the peer's own W3 line),
  "server_peak_rss_kib" and "rss_source". The peer does not report RSS itself (WORKLOADS.md does not
  ask for it); issue 5 compares the servers' peaks in W3.
"""
import json
import os
import subprocess
import sys
import time


def children(pid):
    """Direct children of pid, from /proc (no CONFIG_PROC_CHILDREN needed)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command may contain spaces and parentheses: split after the
        # last ')'. Field 4 (index 1 after it) is the parent's pid.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            out.append(int(entry))
    return out


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_mode(peer, args, mode):
    proc = subprocess.Popen([peer, *args, "--workloads", "W3", "--modes", mode],
                            stdout=subprocess.PIPE, text=True)
    peaks = {}  # pid -> VmHWM seen last (the mark only rises)
    while proc.poll() is None:
        for child in children(proc.pid):
            for pid in [child] + children(child):
                hwm = vm_hwm_kib(pid)
                if hwm is not None:
                    peaks[pid] = max(peaks.get(pid, 0), hwm)
        time.sleep(0.01)
    out, _ = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"peer_rss.py: {peer} exited with {proc.returncode}")
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    w3 = [l for l in lines if l.get("workload") == "W3"]
    if len(w3) != 1 or not peaks:
        sys.exit(f"peer_rss.py: no W3 line or no server process seen ({mode})")
    # Only the RSS: this extra run's other figures are not part of the
    # alternating rounds, so they are left out of the medians.
    result = {k: w3[0][k] for k in ("system", "workload", "security")}
    result["server_peak_rss_kib"] = max(peaks.values())
    result["rss_source"] = ("VmHWM of the peer's server process, sampled "
                            "every 10 ms by tools/bench/peer_rss.py")
    return result


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    peer, args = sys.argv[1], sys.argv[2:]
    for mode in ("insecure", "tls"):
        print(json.dumps(run_mode(peer, args, mode)), flush=True)


if __name__ == "__main__":
    main()
