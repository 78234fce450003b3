#!/usr/bin/env python3
"""Medians of `netstructer bench` beside a peer's, and the ratios ours/peer.

Usage: compare.py DIR
  DIR holds ours-*.jsonl and peer-*.jsonl (one JSON line per workload and
  security mode, as ../shared/bench/WORKLOADS.md specifies), written by
  compare.sh; peer-rss-*.jsonl add only the peer server's W3 peak RSS
  (tools/bench/peer_rss.py). Prints two Markdown tables: medians [min-max] per system,
  workload and mode; then ours/peer for each workload's primary metric with
  secure modes matched (fernet vs tls) and plaintext with plaintext.
"""
import glob
import json
import os
import statistics
import sys

FIELDS = ["qps", "mib_per_s", "p50_us", "p99_us", "cpu_us_per_call",
          "server_peak_rss_kib"]
# The connection workloads' own fields (WORKLOADS.md, W5 and W6), kept for
# the ratio table; "fairness" is conn_calls_min / conn_calls_max of a line.
CONNECTION_FIELDS = ["fairness", "connections_per_s", "close_p50_us",
                     "server_cpu_us_per_conn", "rss_per_conn_kib"]
# W5 and W6 are measured at several concurrencies (connections, openers):
# one group per concurrency.
BY_CONCURRENCY = ("W5", "W6")
# The primary metric of each workload (WORKLOADS.md) and which way is better.
PRIMARY = [("W1", "p50_us", "lower"), ("W2", "qps", "higher"),
           ("W3", "mib_per_s", "higher"), ("W4", "mib_per_s", "higher"),
           ("W5", "qps", "higher"), ("W5", "p99_us", "lower"),
           ("W5", "fairness", "higher"),
           ("W6", "connections_per_s", "higher"),
           ("W6", "close_p50_us", "lower"),
           ("W6", "server_cpu_us_per_conn", "lower"),
           ("W6idle", "rss_per_conn_kib", "lower")]
# Our mode -> the peer's mode it is compared with.
MODE_PAIRS = [("fernet", "tls"), ("insecure", "insecure")]


def load(pattern):
    """{(workload, security, concurrency or None): {field: [values]}}, the
    system names, runs."""
    groups, systems = {}, set()
    files = sorted(glob.glob(pattern))
    for path in files:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                o = json.loads(line)
                systems.add(o.get("system", "?"))
                level = (o.get("concurrency")
                         if o["workload"] in BY_CONCURRENCY else None)
                g = groups.setdefault(
                    (o["workload"], o["security"], level), {})
                if o.get("conn_calls_max"):
                    o["fairness"] = o["conn_calls_min"] / o["conn_calls_max"]
                for k in FIELDS + CONNECTION_FIELDS:
                    v = o.get(k)
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        g.setdefault(k, []).append(float(v))
    runs = len([p for p in files if "-rss-" not in os.path.basename(p)])
    return groups, "/".join(sorted(systems)) or "-", runs


def fmt(x):
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def cell(values):
    if not values:
        return "n/a"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med)
    return f"{fmt(med)} [{fmt(min(values))}–{fmt(max(values))}]"


def median(groups, key, field):
    values = groups.get(key, {}).get(field)
    return statistics.median(values) if values else None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    ours, our_name, our_runs = load(os.path.join(d, "ours-*.jsonl"))
    peer, peer_name, peer_runs = load(os.path.join(d, "peer-*.jsonl"))
    if not ours:
        sys.exit(f"no results of ours in {d}")

    print(f"Medians [min–max] over runs: {our_name} ({our_runs} runs), "
          f"{peer_name} ({peer_runs} runs). From {d}.\n")
    print("| system | workload | security | concurrency | " +
          " | ".join(FIELDS) + " |")
    print("|---|---|---|---|" + "---|" * len(FIELDS))
    order = lambda k: (k[0], k[1], k[2] or 0)
    for name, groups in ((our_name, ours), (peer_name, peer)):
        for key in sorted(groups, key=order):
            level = "" if key[2] is None else key[2]
            print(f"| {name} | {key[0]} | {key[1]} | {level} | " +
                  " | ".join(cell(groups[key].get(f, [])) for f in FIELDS) +
                  " |")

    print("\nours / peer (medians; the better way is in the `better` "
          "column):\n")
    print("| workload | concurrency | metric | better | ours mode | peer mode "
          "| ours | peer | ours/peer |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = PRIMARY + [("W3", "server_peak_rss_kib", "lower")]
    ran = {k[0] for k in ours}
    for workload, field, better in rows:
        if workload not in ran:
            continue
        levels = sorted({k[2] for k in ours if k[0] == workload},
                        key=lambda x: x or 0)
        for level in levels:
            for our_mode, peer_mode in MODE_PAIRS:
                a = median(ours, (workload, our_mode, level), field)
                b = median(peer, (workload, peer_mode, level), field)
                ratio = f"{a / b:.2f}" if a is not None and b else "n/a"
                shown = "" if level is None else level
                print(f"| {workload} | {shown} | {field} | {better} | "
                      f"{our_mode} | {peer_mode} | "
                      f"{fmt(a) if a is not None else 'n/a'} | "
                      f"{fmt(b) if b is not None else 'n/a'} | {ratio} |")

    if any(k[0] == "W1flood" for k in ours):
        print("\nW1 under a handshake flood (ours only; issue 13's bar: p99 "
              "at most 2x W1's):\n")
        print("| security | W1 p99_us | W1flood p99_us | W1flood / W1 |")
        print("|---|---|---|---|")
        for mode, _ in MODE_PAIRS:
            a = median(ours, ("W1flood", mode, None), "p99_us")
            b = median(ours, ("W1", mode, None), "p99_us")
            if a is None:
                continue
            ratio = f"{a / b:.2f}" if b else "n/a"
            print(f"| {mode} | {fmt(b) if b is not None else 'n/a'} | "
                  f"{fmt(a)} | {ratio} |")


if __name__ == "__main__":
    main()
