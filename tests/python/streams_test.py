"""The stream machinery (docs/PROTOCOL.md 8.1, 8.2, 9.5): reassembly, the
temporary-file spill, the per-message limit, and the receive window; and
the connection window end to end (a reader that does not read stops the
sender, and reading lets it go on)."""

import os
import time
import unittest

import netstructer
from netstructer import Bridge, ConnectionOptions, Server, StatusCode, streams
from netstructer.errors import NetStructerError

import testing_support as ts


def feed(assembler, kind, body, fragment):
    out = []
    for i, part in enumerate(streams.fragments(kind, body, fragment)):
        last = (i + 1) * fragment >= len(body) + streams.MESSAGE_HEADER_BYTES
        message = assembler.add(bytes(part), last)
        if message is not None:
            out.append(message)
    return out


class Assembler(unittest.TestCase):
    def test_fragments_reassemble_in_memory_below_the_threshold(self):
        a = streams.MessageAssembler((streams.KIND_VALUE,), memory_threshold_bytes=1000)
        [m] = feed(a, streams.KIND_VALUE, b"x" * 1000, 64)
        self.assertEqual((m.kind, m.size, m.body), (streams.KIND_VALUE, 1000, b"x" * 1000))

    def test_above_the_threshold_a_message_goes_to_an_unlinked_file(self):
        a = streams.MessageAssembler((streams.KIND_VALUE,), memory_threshold_bytes=1000)
        body = bytes(range(256)) * 10
        [m] = feed(a, streams.KIND_VALUE, body, 100)
        self.assertFalse(isinstance(m.body, (bytes, bytearray)))
        self.assertEqual(streams.body_bytes(m), body)
        self.assertTrue(m.body.closed)

    def test_over_the_limit_a_message_fails_alone(self):
        a = streams.MessageAssembler((streams.KIND_VALUE,), max_message_bytes=100)
        [big] = feed(a, streams.KIND_VALUE, b"x" * 500, 64)
        self.assertEqual(big.error.code, StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("a message of 500 bytes exceeds the limit of 100 bytes",
                      big.error.message)
        [ok] = feed(a, streams.KIND_VALUE, b"y" * 10, 64)
        self.assertEqual(ok.body, b"y" * 10)

    def test_framing_errors_are_data_loss(self):
        cases = [
            (lambda a: a.add(b"\x00" * 5, True), "less than its 9-byte header"),
            (lambda a: a.add(streams.message_header(9, 0), True), "unknown message kind 0x09"),
            (lambda a: a.add(streams.message_header(1, 4) + b"ab", True), "ended after 2 bytes"),
            (lambda a: a.add(streams.message_header(1, 1) + b"ab", False), "got 2 bytes"),
        ]
        for action, why in cases:
            a = streams.MessageAssembler((streams.KIND_VALUE,))
            with self.assertRaises(NetStructerError) as e:
                action(a)
            self.assertEqual(e.exception.code, StatusCode.DATA_LOSS)
            self.assertIn(why, e.exception.message)


class Window(unittest.TestCase):
    def test_credit_comes_back_in_quarter_window_batches(self):
        w = streams.ReceiveWindow(1000, 10_000)
        self.assertTrue(w.receive(200))
        w.stored(200)
        self.assertEqual(w.take_credit(), 0)  # Under a quarter.
        self.assertTrue(w.receive(100))
        w.stored(100)
        self.assertEqual(w.take_credit(), 300)
        self.assertEqual(w.available, 1000)

    def test_a_full_queue_defers_credit_until_the_application_reads(self):
        w = streams.ReceiveWindow(1000, 500)
        w.queued = 500
        self.assertTrue(w.receive(400))
        w.stored(400)
        self.assertEqual(w.take_credit(force=True), 0)
        self.assertTrue(w.dequeued(500))  # Released: send it now.
        self.assertEqual(w.take_credit(force=True), 400)

    def test_data_beyond_the_window_is_refused(self):
        w = streams.ReceiveWindow(100, 100)
        self.assertFalse(w.receive(101))

    def test_window_update_payloads(self):
        self.assertEqual(streams.window_increment(b"\x00\x00\x01\x00"), 256)
        for bad in (b"\x00\x00\x00\x00", b"\x80\x00\x00\x00", b"\x01"):
            with self.assertRaises(NetStructerError) as e:
                streams.window_increment(bad)
            self.assertEqual(e.exception.code, StatusCode.DATA_LOSS)


class CancelNeverOpensAStream(unittest.TestCase):
    """PROTOCOL.md 9.1: a CANCEL may not be a stream's first frame."""

    def headers(self):
        from netstructer import rpc_wire as W
        return W.encode_prefixed(W.CallHeaders(method="/a.B/C"))

    def test_a_call_cancelled_before_its_headers_sends_nothing(self):
        from netstructer.call_stream import CallStream
        from netstructer import frames as F
        conn = ts.RecordingConnection()
        stream = CallStream(conn, 3, "client")
        self.assertTrue(stream.cancel(StatusCode.CANCELLED, "early"))
        with self.assertRaises(NetStructerError):
            stream.send(F.HEADERS, self.headers(), b"x", end_stream=True)
        self.assertEqual(conn.frames, [])

    def test_a_cancel_during_the_headers_write_follows_it(self):
        from netstructer.call_stream import CallStream
        from netstructer import frames as F
        holder = {}
        conn = ts.RecordingConnection(during_write=lambda: holder["stream"].cancel(
            StatusCode.DEADLINE_EXCEEDED, "the call's deadline passed"))
        stream = holder["stream"] = CallStream(conn, 3, "client")
        stream.send(F.HEADERS, self.headers(), b"x", end_stream=True)
        self.assertEqual([(f[0], f[1]) for f in conn.frames],
                         [(3, F.HEADERS), (3, F.CANCEL)])


class ConnectionWindow(unittest.TestCase):
    def test_a_reader_that_does_not_read_stops_the_sender(self):
        key = netstructer.generate_key()
        server = Server(("127.0.0.1", 0), key=key,
                        options=ConnectionOptions(max_inbox_bytes=1 << 20)).init()
        server.listen()
        self.addCleanup(server.shutdown)
        client = Bridge.Link("127.0.0.1", server.port, key=key)
        self.addCleanup(client.connection.abort)
        # Messages of one frame each (60,000 bytes), so that the deadline
        # finds the sender between two messages, not inside one.
        chunk = b"z" * 60000
        sent = 0
        with self.assertRaises(NetStructerError) as e:
            for _ in range(1000):  # 60 MB: far past the 16 MiB window.
                client.SendBuffer(chunk, timeout=1.0)
                sent += 1
        self.assertEqual(e.exception.code, StatusCode.DEADLINE_EXCEEDED)
        self.assertIn("gave no flow-control credit", e.exception.message)
        # The window (16 MiB) plus the inbox limit (1 MiB), about.
        window, inbox, size = 16 << 20, 1 << 20, len(chunk) + 14
        self.assertLessEqual(sent, (window + inbox) // size + 2)
        self.assertGreaterEqual(sent, window // size - 2)
        session = server.get("127.0.0.1", timeout=10)
        for _ in range(sent):
            self.assertEqual(session.RecvBuffer(timeout=10), chunk)
        client.SendBuffer(b"after", timeout=10)  # Credit came back.


class NonReadingPeer(unittest.TestCase):
    """A peer that completes the handshake, then never reads: deadlines
    still end calls and sends on time, and a message cut short by its
    deadline closes the connection rather than corrupt the stream."""

    def setUp(self):
        self.key = netstructer.generate_key()
        self.port, self.accepted = ts.accept_one_handshake(self, self.key)

    def test_a_call_deadline_ends_a_call_stuck_on_a_peer_that_does_not_read(self):
        from netstructer import Channel, RpcError
        channel = Channel("127.0.0.1", self.port, key=self.key)
        self.addCleanup(channel.close)
        say = channel.unary_unary("/greeter.Greeter/SayHello",
                                  request_serializer=lambda b: b)
        start = time.monotonic()
        with self.assertRaises(RpcError) as e:
            say(b"x" * (3 << 20), timeout=1.0)
        self.assertEqual(e.exception.code, StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.monotonic() - start, 10)

    def test_a_message_cut_short_by_its_deadline_closes_the_connection(self):
        bridge = Bridge.Link("127.0.0.1", self.port, key=self.key)
        self.accepted()
        self.addCleanup(bridge.connection.abort)
        with self.assertRaises(NetStructerError) as e:
            bridge.SendBuffer(b"y" * (40 << 20), timeout=1.0)
        self.assertEqual(e.exception.code, StatusCode.DEADLINE_EXCEEDED)
        self.assertIn("the connection was closed", e.exception.message)
        with self.assertRaises(netstructer.ConnectionEndError) as e:
            bridge.SendBuffer("next")
        self.assertEqual(e.exception.code, StatusCode.ABORTED)

    def test_a_full_send_queue_holds_the_sender_to_its_deadline(self):
        import socket
        options = ConnectionOptions(max_queued_send_bytes=1000)
        bridge = Bridge.Link("127.0.0.1", self.port, key=self.key, options=options)
        self.accepted()
        self.addCleanup(bridge.connection.abort)
        # Small kernel buffers both ways: the backlog, not the kernel, fills.
        self.accepted()._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        bridge.connection._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        with self.assertRaises(NetStructerError) as e:
            for _ in range(1000):  # Messages of one frame each.
                bridge.SendBuffer(b"q" * 60000, timeout=0.5)
        self.assertEqual(e.exception.code, StatusCode.DEADLINE_EXCEEDED)
        self.assertIn("the socket took nothing in time", e.exception.message)
        self.assertIsNone(bridge.ended())  # Between messages: still usable.

    def test_close_returns_by_its_timeout(self):
        bridge = Bridge.Link("127.0.0.1", self.port, key=self.key)
        self.accepted()
        start = time.monotonic()
        with self.assertRaises(netstructer.ConnectionEndError) as e:
            bridge.Close(timeout=0.5)
        self.assertEqual(e.exception.code, StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.monotonic() - start, 5)


class TwoWayBulk(unittest.TestCase):
    """Both ends send bulk while reading: the server's backpressure on a
    peer that does not read (its reader pauses while its send backlog is
    over the limit) must not stall a peer that does, or the keepalive
    closes a healthy connection. Failed on every run (2 of 2) when the
    client paused too: each side waited for the other."""

    def test_both_ends_sending_bulk_and_reading_finish(self):
        import socket
        import threading
        key = netstructer.generate_key()
        options = ConnectionOptions(max_queued_send_bytes=64 << 10,
                                    keepalive_interval=2.0, keepalive_timeout=3.0)
        port, accepted = ts.accept_one_handshake(self, key, options)
        client = Bridge.Link("127.0.0.1", port, key=key, options=options)
        server_connection = accepted()
        server_connection.start()
        server = Bridge(server_connection)
        # Small kernel buffers: the backlogs, not the kernel, fill.
        for sock in (server_connection._sock, client.connection._sock):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 10)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 << 10)
        self.addCleanup(client.connection.abort)
        count, body = 40, os.urandom(1 << 20)  # Incompressible.
        got = {"client": 0, "server": 0}
        errors = []

        def receive(name, bridge):
            try:
                for _ in range(count):
                    self.assertEqual(bridge.RecvBuffer(timeout=30), body)
                    got[name] += 1
            except Exception as e:  # noqa: BLE001 - reported below.
                errors.append(f"{name} receiving: {e!r}")

        def send(name, bridge):
            try:
                for _ in range(count):
                    bridge.SendBuffer(body, timeout=30)
            except Exception as e:  # noqa: BLE001 - reported below.
                errors.append(f"{name} sending: {e!r}")
        threads = [threading.Thread(target=f, args=(n, b))
                   for f in (receive, send) for n, b in (("client", client),
                                                          ("server", server))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(got, {"client": count, "server": count})
        self.assertIsNone(client.ended())
        self.assertIsNone(server.ended())


if __name__ == "__main__":
    ts.main()
