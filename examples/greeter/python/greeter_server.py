"""The greeter server in Python: the same service as server_main.cc, served
by netstructer's Python package with the generated greeter_ns.py.

    greeter_server.py --listen HOST:PORT (--key-file PATH | --insecure)

Prints "listening on IP:PORT" once it accepts connections; serves until
SIGINT or SIGTERM.
"""

import argparse
import signal
import sys
import threading

import netstructer
from examples.greeter import greeter_ns
from examples.greeter.python.greeter_servicer import Greeter

def main(argv):
    parser = argparse.ArgumentParser(description="Serves greeter.Greeter.")
    parser.add_argument("--listen", required=True, help="HOST:PORT (port 0: any)")
    keys = parser.add_mutually_exclusive_group(required=True)
    keys.add_argument("--key-file")
    keys.add_argument("--insecure", action="store_true")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    server = netstructer.Server((host or "0.0.0.0", int(port)), key_file=args.key_file,
                                insecure=args.insecure)
    greeter_ns.add_GreeterServicer_to_server(Greeter(), server)
    try:
        server.init()
    except netstructer.NetStructerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.listen()
    print(f"listening on {server.address}", flush=True)
    stop.wait()
    server.shutdown(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
