"""A proto2 service with required fields from Python, as ledger_test.cc
has it in C++: a request missing one is refused before it leaves
(INVALID_ARGUMENT), a response missing one fails the call (INTERNAL), and
neither harms the channel or the server."""

import unittest

import netstructer
from netstructer import RpcError, StatusCode
from legacy import ledger_ns, ledger_pb2


class Ledger(ledger_ns.LedgerServicer):
    def Post(self, request, context):
        if request.memo == "forget the id":
            return ledger_pb2.Receipt(note="no id")
        return ledger_pb2.Receipt(id=request.cents)

    def History(self, request, context):
        for i in range(1, request.cents):
            yield ledger_pb2.Receipt(id=i)
        yield ledger_pb2.Receipt(note="no id")


def complete(memo=""):
    return ledger_pb2.Entry(account="acct-1", cents=250, memo=memo)


class LedgerFromPython(unittest.TestCase):
    def setUp(self):
        key = netstructer.generate_key()
        self.server = netstructer.Server(("127.0.0.1", 0), key=key)
        ledger_ns.add_LedgerServicer_to_server(Ledger(), self.server)
        self.server.init().listen()
        self.addCleanup(self.server.shutdown)
        self.channel = netstructer.Channel("127.0.0.1", self.server.port, key=key)
        self.addCleanup(self.channel.close)
        self.stub = ledger_ns.LedgerStub(self.channel)

    def test_a_complete_exchange_works(self):
        self.assertEqual(self.stub.Post(complete(), timeout=10).id, 250)

    def test_a_request_missing_a_required_field_is_refused_before_it_leaves(self):
        with self.assertRaises(RpcError) as e:
            self.stub.Post(ledger_pb2.Entry(account="acct-1"), timeout=10)
        self.assertEqual(e.exception.code, StatusCode.INVALID_ARGUMENT, e.exception)
        self.assertIn("cents", e.exception.details())
        self.assertEqual(self.stub.Post(complete(), timeout=10).id, 250)

    def test_a_server_refuses_a_request_missing_a_required_field(self):
        # A client that sends the bytes itself: only the server can check.
        post = self.channel.unary_unary(
            "/consumer.legacy.Ledger/Post", request_serializer=lambda b: b,
            response_deserializer=ledger_pb2.Receipt.FromString)
        partial = ledger_pb2.Entry(account="acct-1").SerializePartialToString()
        with self.assertRaises(RpcError) as e:
            post(partial, timeout=10)
        self.assertEqual((e.exception.code, e.exception.details()),
                         (StatusCode.INVALID_ARGUMENT,
                          "the request (consumer.legacy.Entry) is missing required "
                          "fields: cents"))

    def test_a_response_missing_a_required_field_fails_the_call_as_internal(self):
        with self.assertRaises(RpcError) as e:
            self.stub.Post(complete("forget the id"), timeout=10)
        self.assertEqual(e.exception.code, StatusCode.INTERNAL, e.exception)
        self.assertIn("id", e.exception.details())
        self.assertEqual(self.stub.Post(complete(), timeout=10).id, 250)

    def test_a_streamed_response_missing_a_required_field_ends_the_stream(self):
        entry = complete()
        entry.cents = 3
        call = self.stub.History(entry, timeout=10)
        self.assertEqual(next(call).id, 1)
        self.assertEqual(next(call).id, 2)
        with self.assertRaises(RpcError) as e:
            next(call)
        self.assertEqual(e.exception.code, StatusCode.INTERNAL, e.exception)
        self.assertIn("missing required fields: id", e.exception.details())


if __name__ == "__main__":
    unittest.main()
