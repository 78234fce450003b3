"""The Python package's benchmark, beside the C++ library (docs/BENCHMARKS.md,
"Python"). Run: bazel run -c opt //tests/python:python_bench -- [--seconds S]

Measures, each as the median of --rounds rounds of --seconds seconds:
  * 64-byte Bridge ping-pong (SendBuffer then RecvBuffer of a 64-byte bytes
    value), a Python client against the C++ echo peer and against a
    Python server, in Fernet mode: round trips per second;
  * a 1 MiB unary call (greeter SayHello with a 1 MiB name of random
    letters, which lz4 cannot shrink, and a 1 MiB reply),
    a Python stub against the C++ greeter server and a Python one: MiB per
    second each way;
  * the floor: Fernet itself in Python (`cryptography`), sealing and
    opening a 64-byte frame and a 64 KiB fragment, the per-frame cost no
    Python implementation avoids.
"""

import argparse
import os
import random
import statistics
import string
import sys
import tempfile
import threading
import time

import netstructer
from netstructer import Bridge, Channel, Server
from netstructer import fernet
from netstructer.keys import parse_key
from examples.greeter import greeter_ns, greeter_pb2
from examples.greeter.python.greeter_servicer import Greeter

import testing_support as ts


def rounds(n, seconds, body):
    """Medians of `body(seconds)` over n rounds: body returns (ops, elapsed)."""
    rates = []
    for _ in range(n):
        ops, elapsed = body(seconds)
        rates.append(ops / elapsed)
    return statistics.median(rates)


def ping_pong(bridge, seconds):
    payload = b"x" * 64
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        bridge.SendBuffer(payload)
        bridge.RecvBuffer(timeout=10)
        n += 1
    return n, time.perf_counter() - start


# 1 MiB of random letters: lz4 cannot shrink it, so Fernet sees every byte
# (W3 of ../shared/bench/WORKLOADS.md uses random bytes likewise).
RANDOM_MIB = "".join(random.Random(16).choices(string.ascii_letters + string.digits,
                                               k=1 << 20))


def unary_mib(stub, seconds):
    request = greeter_pb2.HelloRequest(name=RANDOM_MIB)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        stub.SayHello(request, timeout=30)
        n += 1
    return n, time.perf_counter() - start


def fernet_floor(size, seconds=0.5):
    key = parse_key(netstructer.generate_key())
    frame = b"x" * size
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        fernet.open_token([key], fernet.seal(key, frame))
        n += 1
    return (time.perf_counter() - start) / n * 1e6  # µs per frame, both ends


def python_echo_server(key):
    server = Server(("127.0.0.1", 0), key=key).init()

    def loop(srv):
        while True:
            try:
                bridge = srv.accept()
            except netstructer.NetStructerError:
                return

            def echo(b=bridge):
                try:
                    while True:
                        b.SendBuffer(b.RecvBuffer())
                except netstructer.NetStructerError:
                    pass
            threading.Thread(target=echo, daemon=True).start()
    threading.Thread(target=server.listen_on, args=(loop,), daemon=True).start()
    return server


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    directory = tempfile.mkdtemp()
    key_file, key = ts.write_key_file(directory)
    rows = []

    echo = ts.Process([ts.runfile(ts.ECHO_PEER), "serve", key_file])
    with Bridge.Link("127.0.0.1", echo.port, key=key) as bridge:
        rows.append(("64 B Bridge ping-pong, Python -> C++ echo", "round trips/s",
                     rounds(args.rounds, args.seconds, lambda s: ping_pong(bridge, s))))
    echo.close()
    server = python_echo_server(key)
    with Bridge.Link("127.0.0.1", server.port, key=key) as bridge:
        rows.append(("64 B Bridge ping-pong, Python -> Python echo", "round trips/s",
                     rounds(args.rounds, args.seconds, lambda s: ping_pong(bridge, s))))
    server.shutdown()

    greeter = ts.Process([ts.runfile(ts.GREETER_SERVER), "--listen", "127.0.0.1:0",
                          "--key-file", key_file])
    with Channel("127.0.0.1", greeter.port, key=key) as channel:
        stub = greeter_ns.GreeterStub(channel)
        rows.append(("1 MiB unary, Python stub -> C++ greeter", "calls/s (MiB/s each way)",
                     rounds(args.rounds, args.seconds, lambda s: unary_mib(stub, s))))
    greeter.close()
    server = Server(("127.0.0.1", 0), key=key)
    greeter_ns.add_GreeterServicer_to_server(Greeter(), server)
    server.init().listen()
    with Channel("127.0.0.1", server.port, key=key) as channel:
        stub = greeter_ns.GreeterStub(channel)
        rows.append(("1 MiB unary, Python stub -> Python servicer", "calls/s (MiB/s each way)",
                     rounds(args.rounds, args.seconds, lambda s: unary_mib(stub, s))))
    server.shutdown()

    print(f"netstructer {netstructer.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores; medians of {args.rounds} rounds of {args.seconds} s")
    for name, unit, value in rows:
        print(f"{name:50s} {value:10.1f} {unit}")
    print(f"{'floor: Fernet seal+open of a 64 B frame':50s} {fernet_floor(64):10.1f} µs")
    per_fragment = fernet_floor(64 << 10)
    print(f"{'floor: Fernet seal+open of a 64 KiB fragment':50s} {per_fragment:10.1f} µs "
          f"({(1 / 16) / (per_fragment * 1e-6):.0f} MiB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
