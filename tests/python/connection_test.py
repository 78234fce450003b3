"""One connection's ends (docs/PROTOCOL.md 8.3), forced over an in-memory
pair (a socketpair, both directions sealed with one key, no handshake), so
that each interleaving happens on every run rather than by chance."""

import os
import socket
import sys
import threading
import time
import unittest

import netstructer
from netstructer import StatusCode, streams, values
from netstructer import frames as F
from netstructer.connection import Connection
from netstructer.keys import parse_key

import testing_support as ts


def connection_pair(test):
    """(client, server) Connections over a socketpair; neither is started."""
    a, b = socket.socketpair()
    key = parse_key(netstructer.generate_key())
    ends = [Connection(sock, F.FrameSealer(key), F.FrameOpener(key), role)
            for sock, role in ((a, "client"), (b, "server"))]
    for end in ends:
        test.addCleanup(end.abort)
    return ends


class SocketFailure(unittest.TestCase):
    def test_messages_before_the_peers_goaway_survive_a_failed_send(self):
        # The peer sends three messages and its GOAWAY, then closes without
        # reading. Our reader has all of it in hand, but is held inside the
        # first message's listener while another thread's send fails on the
        # closed socket. That failure must not cut the reader short: every
        # message before the peer's GOAWAY is delivered, then its word.
        client, server = connection_pair(self)
        for i in range(3):
            server.send_message(streams.KIND_VALUE, values.encode(f"m{i}"))
        server._sendq.send_goaway(StatusCode.OK, "", ack=False)
        server._sock.close()
        delivered = []
        first, go = threading.Event(), threading.Event()

        def listener(message):
            delivered.append(values.decode(streams.body_bytes(message)))
            first.set()
            go.wait(10)
        client.set_message_listener(listener)
        client.start()
        self.assertTrue(first.wait(10))
        with self.assertRaises(netstructer.ConnectionEndError) as e:
            for _ in range(100):  # The first sends may still be buffered.
                client.write_frames([(F.CONNECTION_STREAM, F.PING, 0, b"netstruc", False)])
        self.assertEqual(e.exception.code, StatusCode.UNAVAILABLE)
        go.set()
        client._reader.join(10)
        self.assertEqual(delivered, ["m0", "m1", "m2"])
        self.assertEqual(client.ended.code, StatusCode.OUT_OF_RANGE)

    def test_a_peer_that_never_closes_is_given_up_after_keepalive_timeout(self):
        # Our sends fail but the peer's socket stays half open: the reader
        # does not wait for an EOF forever.
        client, server = connection_pair(self)
        client.options.keepalive_timeout = 0.2
        client.start()
        server._sock.shutdown(socket.SHUT_RD)
        with self.assertRaises(netstructer.ConnectionEndError) as e:
            for _ in range(100):
                client.write_frames([(F.CONNECTION_STREAM, F.PING, 0, b"netstruc", False)])
        self.assertEqual(e.exception.code, StatusCode.UNAVAILABLE)
        client._reader.join(10)
        self.assertFalse(client._reader.is_alive())
        self.assertEqual(client.ended.code, StatusCode.UNAVAILABLE)
        self.assertIn("while sending", client.ended.message)

    def test_a_sender_waiting_for_credit_learns_of_a_failed_send_at_once(self):
        # It could never use the credit: it raises the socket's error now,
        # not when the reader reaches the end (up to keepalive_timeout).
        client, server = connection_pair(self)
        client.options.keepalive_timeout = 30
        client.start()
        client._send_credit = 0  # The peer has given no credit.
        errors = []

        def wait_for_credit():
            try:
                client.send_message(streams.KIND_VALUE, values.encode("x"),
                                    deadline=time.monotonic() + 20)
            except netstructer.NetStructerError as e:
                errors.append((e.code, time.monotonic()))
        waiter = threading.Thread(target=wait_for_credit)
        waiter.start()
        server._sock.shutdown(socket.SHUT_RD)
        with self.assertRaises(netstructer.ConnectionEndError):
            for _ in range(100):
                client.write_frames([(F.CONNECTION_STREAM, F.PING, 0, b"netstruc", False)])
        failed_at = time.monotonic()
        waiter.join(20)
        self.assertEqual([code for code, _ in errors], [StatusCode.UNAVAILABLE])
        self.assertLess(errors[0][1] - failed_at, 5)
        self.assertIsNotNone(client.send_failure())


class CallbackThread(unittest.TestCase):
    def test_a_callback_that_exits_does_not_stop_the_others(self):
        from netstructer.callbacks import CALLBACKS
        ran = threading.Event()
        CALLBACKS.submit([lambda: sys.exit("a callback exits"), ran.set])
        self.assertTrue(ran.wait(10))
        again = threading.Event()
        CALLBACKS.submit([again.set])
        self.assertTrue(again.wait(10))

    def test_callbacks_run_in_a_forked_child(self):
        from netstructer.callbacks import CALLBACKS
        warm = threading.Event()
        CALLBACKS.submit([warm.set])  # The parent's thread exists.
        self.assertTrue(warm.wait(10))
        pid = os.fork()
        if pid == 0:  # The child: its own callback thread, or exit 1.
            ran = threading.Event()
            CALLBACKS.submit([ran.set])
            os._exit(0 if ran.wait(10) else 1)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)


if __name__ == "__main__":
    ts.main()
