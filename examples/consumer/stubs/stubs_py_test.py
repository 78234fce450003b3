"""py_netstructer_library over protos of another package, imported under
strip_import_prefix and import_prefix: both served and called from
Python."""

import unittest

import netstructer
from shop.v1 import orders_ns, orders_pb2
from vendor.apis.legacy import quotes_ns, quotes_pb2


class Orders(orders_ns.OrdersServicer):
    def Place(self, request, context):
        return orders_pb2.OrderReply(status=f"placed {request.id} for {request.cents}")


class Quotes(quotes_ns.QuotesServicer):
    def Get(self, request, context):
        return quotes_pb2.Quote(symbol=request.symbol, cents=4200)


class StubsFromPython(unittest.TestCase):
    def test_both_services(self):
        key = netstructer.generate_key()
        server = netstructer.Server(("127.0.0.1", 0), key=key)
        orders_ns.add_OrdersServicer_to_server(Orders(), server)
        quotes_ns.add_QuotesServicer_to_server(Quotes(), server)
        server.init().listen()
        self.addCleanup(server.shutdown)
        with netstructer.Channel("127.0.0.1", server.port, key=key) as channel:
            placed = orders_ns.OrdersStub(channel).Place(
                orders_pb2.Order(id="a1", cents=250), timeout=10)
            quote = quotes_ns.QuotesStub(channel).Get(quotes_pb2.Ask(symbol="NS"),
                                                       timeout=10)
        self.assertEqual(placed.status, "placed a1 for 250")
        self.assertEqual((quote.symbol, quote.cents), ("NS", 4200))


if __name__ == "__main__":
    unittest.main()
