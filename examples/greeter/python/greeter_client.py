"""The greeter client in Python, as client_main.cc, plus the two other kinds:

    greeter_client.py --to HOST:PORT (--key-file PATH | --insecure) NAME...

Says hello to the first NAME (unary), then to every NAME over one stream
(bidi), then to the first NAME twice (server streaming), then to all NAMEs
at once (client streaming); one reply per line. Exit 1 with
"error: CODE: message" on a failed call.
"""

import argparse
import sys

import netstructer
from examples.greeter import greeter_ns, greeter_pb2


def main(argv):
    parser = argparse.ArgumentParser(description="Calls greeter.Greeter.")
    parser.add_argument("--to", required=True, help="HOST:PORT")
    keys = parser.add_mutually_exclusive_group(required=True)
    keys.add_argument("--key-file")
    keys.add_argument("--insecure", action="store_true")
    parser.add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    requests = [greeter_pb2.HelloRequest(name=n) for n in args.names]
    with netstructer.Channel(args.to, key_file=args.key_file,
                             insecure=args.insecure) as channel:
        stub = greeter_ns.GreeterStub(channel)
        try:
            print(stub.SayHello(requests[0], timeout=10).message)
            for reply in stub.SayHelloStream(iter(requests), timeout=10):
                print(reply.message)
            twice = greeter_pb2.HelloRequest(name=args.names[0], count=2)
            for reply in stub.SayHelloRepeatedly(twice, timeout=10):
                print(reply.message)
            print(stub.SayHelloToAll(iter(requests), timeout=10).message)
        except netstructer.RpcError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
