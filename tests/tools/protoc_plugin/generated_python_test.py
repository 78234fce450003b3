"""The Python output of protoc-gen-netstructer, imported and used: every
method of reserved_names.proto (names the generated code itself uses)
served and called through the Python runtime, and the stubs and servicers
of test_services.proto (nested types, types of another file, services
whose names collide in C++)."""

import unittest

import netstructer
from tests.tools.protoc_plugin import empty_services_ns, test_services_ns
from tests.tools.protoc_plugin import reserved_names_ns as reserved
from tests.tools.protoc_plugin.reserved_names_pb2 import M


class Echoing(reserved.AwkwardServicer):
    """Every unary method answers with its own name; the streams too."""


UNARY = ["kServiceName", "std", "channel", "name", "methods", "AddMethod",
         "kAwkward_std", "Awkward", "request", "options", "Done", "context",
         "NewStub", "forward", "Ping", "PingReactor"]

for _name in UNARY:
    setattr(Echoing, _name,
            lambda self, req, ctx, _n=_name: M(text=_n + ":" + req.text))


def _done(self, req, ctx):
    yield M(text="done:" + req.text)
    yield M(text="again")


def _response(self, requests, ctx):
    return M(text="response:" + ",".join(r.text for r in requests))


Echoing.done = _done
Echoing.response = _response


class GeneratedPython(unittest.TestCase):
    def test_every_reserved_name_is_served_and_called(self):
        server = netstructer.Server(("127.0.0.1", 0), insecure=True)
        reserved.add_AwkwardServicer_to_server(Echoing(), server)
        server.init().listen()
        self.addCleanup(server.shutdown)
        with netstructer.Channel("127.0.0.1", server.port, insecure=True) as channel:
            stub = reserved.AwkwardStub(channel)
            for name in UNARY:
                self.assertEqual(getattr(stub, name)(M(text="x"), timeout=10).text,
                                 name + ":x")
            self.assertEqual([m.text for m in stub.done(M(text="y"), timeout=10)],
                             ["done:y", "again"])
            self.assertEqual(stub.response(iter([M(text="a"), M(text="b")]),
                                           timeout=10).text, "response:a,b")
            std = reserved.stdStub(channel)
            with self.assertRaises(netstructer.RpcError) as e:
                std.Get(M(), timeout=10)  # Served by nobody on this server.
            self.assertEqual(e.exception.code, netstructer.StatusCode.UNIMPLEMENTED)

    def test_test_services_stubs_and_registration(self):
        class Recorder:
            def __init__(self):
                self.services = {}

            def add_service(self, name, handlers):
                self.services[name] = handlers

            def __getattr__(self, kind):  # unary_unary, ... of a channel
                return lambda path, **kw: (kind, path)

        channel = Recorder()
        echo = test_services_ns.EchoStub(channel)
        self.assertEqual(echo.Ping, ("unary_unary", "/netstructer.test.sub.Echo/Ping"))
        self.assertEqual(echo.Upload, ("stream_unary", "/netstructer.test.sub.Echo/Upload"))
        self.assertEqual(echo.Subscribe,
                         ("unary_stream", "/netstructer.test.sub.Echo/Subscribe"))
        self.assertEqual(echo.Chat, ("stream_stream", "/netstructer.test.sub.Echo/Chat"))
        server = Recorder()
        test_services_ns.add_StorageServicer_to_server(test_services_ns.StorageServicer(),
                                                       server)
        handlers = server.services["netstructer.test.sub.Storage"]
        self.assertEqual(sorted(handlers), ["Get", "Put", "Watch"])
        self.assertTrue(handlers["Put"].request_streaming)
        self.assertTrue(handlers["Watch"].response_streaming)
        test_services_ns.A_BStub(channel)
        test_services_ns.AStub(channel)
        self.assertFalse([n for n in dir(empty_services_ns) if n.endswith("Stub")])


if __name__ == "__main__":
    unittest.main()
