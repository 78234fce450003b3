"""py_netstructer_library used from another workspace: calc.proto's
generated Python, served and called over the Python package."""

import unittest

import netstructer
from calc import calc_ns, calc_pb2


class Calculator(calc_ns.CalculatorServicer):
    def Add(self, request, context):
        return calc_pb2.AddReply(sum=request.a + request.b)


class CalcFromPython(unittest.TestCase):
    def test_add(self):
        key = netstructer.generate_key()
        server = netstructer.Server(("127.0.0.1", 0), key=key)
        calc_ns.add_CalculatorServicer_to_server(Calculator(), server)
        server.init().listen()
        self.addCleanup(server.shutdown)
        with netstructer.Channel("127.0.0.1", server.port, key=key) as channel:
            reply = calc_ns.CalculatorStub(channel).Add(calc_pb2.AddRequest(a=2, b=40),
                                                        timeout=10)
        self.assertEqual(reply.sum, 42)


if __name__ == "__main__":
    unittest.main()
