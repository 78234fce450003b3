"""py_netstructer_library over a proto that uses the well-known types
(Empty, Timestamp, Duration, StringValue) and a custom method option."""

import unittest

from google.protobuf import empty_pb2, timestamp_pb2, wrappers_pb2

import netstructer
from wkt import clock_ns, clock_pb2


class Clock(clock_ns.ClockServicer):
    def Ping(self, request, context):
        return empty_pb2.Empty()

    def Now(self, request, context):
        return timestamp_pb2.Timestamp(seconds=1700000000)

    def Add(self, request, context):
        total = request.at.seconds * 10**9 + request.at.nanos + request.delta.ToNanoseconds()
        result = timestamp_pb2.Timestamp()
        result.FromNanoseconds(total)
        return result

    def Echo(self, request, context):
        return wrappers_pb2.StringValue(value=request.value[::-1])


class ClockFromPython(unittest.TestCase):
    def test_well_known_types_both_ways(self):
        key = netstructer.generate_key()
        server = netstructer.Server(("127.0.0.1", 0), key=key)
        clock_ns.add_ClockServicer_to_server(Clock(), server)
        server.init().listen()
        self.addCleanup(server.shutdown)
        with netstructer.Channel("127.0.0.1", server.port, key=key) as channel:
            stub = clock_ns.ClockStub(channel)
            self.assertEqual(stub.Ping(empty_pb2.Empty(), timeout=10), empty_pb2.Empty())
            self.assertEqual(stub.Now(empty_pb2.Empty(), timeout=10).seconds, 1700000000)
            request = clock_pb2.AddRequest()
            request.at.FromSeconds(100)
            request.delta.FromMilliseconds(1500)
            added = stub.Add(request, timeout=10)
            self.assertEqual((added.seconds, added.nanos), (101, 500000000))
            self.assertEqual(stub.Echo(wrappers_pb2.StringValue(value="abc"), timeout=10).value,
                             "cba")


if __name__ == "__main__":
    unittest.main()
