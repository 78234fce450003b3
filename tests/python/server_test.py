"""The Python Server's session registry and accept policy, and the ends of
a connection (graceful close, idle timeout, keepalive), Python on both
sides."""

import socket
import threading
import time
import unittest

import netstructer
from netstructer import (AcceptPolicy, Bridge, ConnectionEndError, ConnectionOptions,
                         Refused, Server, ServerInitializeError, StatusCode)

import testing_support as ts


class Registry(unittest.TestCase):
    def setUp(self):
        self.key = netstructer.generate_key()
        self.server = Server(('127.0.0.1', 0), key=self.key).init()
        self.addCleanup(self.server.shutdown)

    def link(self, source_ip="127.0.0.1"):
        bridge = Bridge.Link('127.0.0.1', self.server.port, key=self.key,
                             source=(source_ip, 0))
        self.addCleanup(bridge.connection.abort)
        return bridge

    def wait_count(self, n):
        deadline = time.monotonic() + 10
        while self.server.count() != n and time.monotonic() < deadline:
            self.server.get("0.0.0.0", timeout=0.01)  # Waits on the registry.
        self.assertEqual(self.server.count(), n)

    def test_listen_before_init_is_the_original_servers_error(self):
        server = Server(('127.0.0.1', 0), key=self.key)
        with self.assertRaises(ServerInitializeError) as e:
            server.listen()
        self.assertEqual(e.exception.code, StatusCode.FAILED_PRECONDITION)
        self.assertIsInstance(e.exception, netstructer.Error.ServerInitializeError)

    def test_several_sessions_per_ip_and_get_returns_the_oldest(self):
        self.server.listen()
        first = self.link()
        first.SendBuffer("first")
        oldest = self.server.get('127.0.0.1', timeout=10)
        second = self.link()
        second.SendBuffer("second")
        self.wait_count(2)
        self.assertIs(self.server.get('127.0.0.1'), oldest)
        self.assertEqual([s.RecvBuffer(timeout=10) for s in self.server.get_all('127.0.0.1')],
                         ["first", "second"])
        self.assertIsNone(self.server.get('10.9.9.9'))

    def test_sessions_are_kept_apart_by_ip(self):
        self.server.listen()
        self.link("127.0.0.2").SendBuffer("from .2")
        self.link("127.0.0.3").SendBuffer("from .3")
        self.assertEqual(self.server.get('127.0.0.3', timeout=10).RecvBuffer(timeout=10),
                         "from .3")
        self.assertEqual(self.server.get('127.0.0.2', timeout=10).RecvBuffer(timeout=10),
                         "from .2")

    def test_pop_hands_over_an_open_session(self):
        self.server.listen()
        client = self.link()
        self.server.get('127.0.0.1', timeout=10)
        session = self.server.pop('127.0.0.1')
        self.assertEqual(self.server.count(), 0)
        self.assertIsNone(self.server.pop('127.0.0.1'))
        self.assertEqual(self.server.clear(), 0)  # Not the popped one.
        session.SendBuffer("still open")
        self.assertEqual(client.RecvBuffer(timeout=10), "still open")

    def test_clear_closes_every_session_with_goaway(self):
        self.server.listen()
        clients = [self.link() for _ in range(3)]
        self.wait_count(3)
        self.assertEqual(self.server.clear(), 3)
        self.assertEqual(self.server.count(), 0)
        for client in clients:
            with self.assertRaises(ConnectionEndError) as e:
                client.RecvBuffer(timeout=10)
            self.assertEqual(e.exception.code, StatusCode.OUT_OF_RANGE)

    def test_listen_on_takes_each_new_session(self):
        accepted = []

        def loop(server):
            # Accepting has started: a client arrives now.
            threading.Thread(target=lambda: self.link().SendBuffer(42)).start()
            accepted.append(server.accept(timeout=10))
            return "done"
        self.assertEqual(self.server.listen_on(loop), "done")
        self.assertEqual(accepted[0].RecvBuffer(timeout=10), 42)
        with self.assertRaises(netstructer.NetStructerError) as e:
            self.server.accept(timeout=0.05)
        self.assertEqual(e.exception.code, StatusCode.DEADLINE_EXCEEDED)

    def test_close_is_confirmed_after_every_message_arrived(self):
        self.server.listen()
        client = self.link()
        for i in range(100):
            client.SendBuffer(i)
        client.Close()  # Returns: the server's GOAWAY answered ours.
        session = self.server.get('127.0.0.1', timeout=10)
        self.assertEqual([session.RecvBuffer(timeout=10) for _ in range(100)],
                         list(range(100)))
        with self.assertRaises(ConnectionEndError) as e:
            client.SendBuffer("after close")
        self.assertEqual(e.exception.code, StatusCode.FAILED_PRECONDITION)


class Policy(unittest.TestCase):
    def setUp(self):
        self.key = netstructer.generate_key()

    def serve(self, policy, **kwargs):
        server = Server(('127.0.0.1', 0), key=self.key, policy=policy, **kwargs).init()
        server.listen()
        self.addCleanup(server.shutdown)
        return server

    def link(self, server, source_ip="127.0.0.1"):
        bridge = Bridge.Link('127.0.0.1', server.port, key=self.key, source=(source_ip, 0))
        self.addCleanup(bridge.connection.abort)
        return bridge

    def test_allow_and_deny_rules_most_specific_first(self):
        server = self.serve(AcceptPolicy(allow=["127.0.0.0/8"], deny=["127.0.0.3/32"]))
        self.link(server, "127.0.0.2")
        with self.assertRaises(Refused) as e:
            self.link(server, "127.0.0.3")
        self.assertEqual((e.exception.code, e.exception.message),
                         (StatusCode.PERMISSION_DENIED,
                          "127.0.0.3 is denied by rule 127.0.0.3/32"))
        only = self.serve(AcceptPolicy(allow=["10.0.0.0/8"]))
        with self.assertRaises(Refused) as e:
            self.link(only)
        self.assertEqual(e.exception.message, "127.0.0.1 is not in the allow list")

    def test_sessions_per_ip_cap(self):
        server = self.serve(AcceptPolicy(max_sessions_per_ip=2))
        self.link(server)
        self.link(server)
        with self.assertRaises(Refused) as e:
            self.link(server)
        self.assertEqual(e.exception.code, StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("127.0.0.1 already has 2 sessions", e.exception.message)
        self.link(server, "127.0.0.2")  # Another address is not affected.

    def test_a_client_that_left_holds_no_slot_and_loses_nothing(self):
        server = self.serve(AcceptPolicy(max_sessions_per_ip=2))
        for i in range(2):
            with Bridge.Link('127.0.0.1', server.port, key=self.key) as client:
                client.SendBuffer(f"left {i}")
        # Both are gone (their slots go back once each end is read, a
        # moment after Close returned): a third connects although two
        # sessions stay unread.
        deadline = time.monotonic() + 10
        while server.policy.sessions_for('127.0.0.1') and time.monotonic() < deadline:
            server.get("0.0.0.0", timeout=0.01)  # Waits on the registry.
        self.assertEqual(server.policy.sessions_for('127.0.0.1'), 0)
        third = self.link(server)
        third.SendBuffer("third")
        deadline = time.monotonic() + 10  # The third registers after its handshake.
        while len(server.get_all('127.0.0.1')) < 3 and time.monotonic() < deadline:
            server.get("0.0.0.0", timeout=0.01)  # Waits on the registry.
        sessions = server.get_all('127.0.0.1')
        self.assertEqual([s.RecvBuffer(timeout=10) for s in sessions],
                         ["left 0", "left 1", "third"])
        popped = server.pop('127.0.0.1')
        self.assertIsNotNone(popped)

    def test_rate_limit_per_ip(self):
        server = self.serve(AcceptPolicy(new_connections_per_ip_per_second=0.001,
                                         new_connection_burst_per_ip=2))
        self.link(server)
        self.link(server)
        with self.assertRaises(Refused) as e:
            self.link(server)
        self.assertIn("too many new connections from 127.0.0.1", e.exception.message)

    def test_a_newcomer_displaces_the_oldest_unfinished_handshake(self):
        server = self.serve(AcceptPolicy(max_pending_handshakes=1, handshake_timeout=30))
        silent = socket.create_connection(('127.0.0.1', server.port))
        self.addCleanup(silent.close)
        # The silent socket holds the only handshake slot until the newcomer.
        deadline = time.monotonic() + 10
        while not server._pending and time.monotonic() < deadline:
            server.get("0.0.0.0", timeout=0.01)
        self.assertTrue(server._pending, "the silent socket never got a slot")
        self.link(server).SendBuffer("in")
        silent.settimeout(10)
        data = silent.recv(1000)
        self.assertIn(b"your unfinished handshake gave way", data)

    def test_a_completed_handshake_never_gives_way_and_the_newcomer_is_refused(self):
        # The only handshake in progress completes between the newcomer's
        # admission (which counted it as able to give way) and its
        # displacement: it may no longer be refused (7.1), so the newcomer
        # is, and its slot goes back.
        policy = AcceptPolicy(max_pending_handshakes=1, handshake_timeout=30)
        server = self.serve(policy)
        silent = socket.create_connection(('127.0.0.1', server.port))
        self.addCleanup(silent.close)
        deadline = time.monotonic() + 10
        while not server._pending and time.monotonic() < deadline:
            server.get("0.0.0.0", timeout=0.01)
        [held] = server._pending
        admit = policy.admit

        def admit_then_complete(ip, displaceable=0, now=None):
            admission = admit(ip, displaceable, now)
            with held.lock:
                held.done = True
            return admission
        policy.admit = admit_then_complete
        with self.assertRaises(Refused) as e:
            self.link(server)
        self.assertEqual(e.exception.code, StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("too many handshakes in progress", e.exception.message)
        self.assertEqual(policy._pending, 1)  # Only the completed one's.
        self.assertFalse(held.displaced)

    def test_idle_timeout_closes_with_its_reason(self):
        server = self.serve(AcceptPolicy(idle_timeout=0.2))
        client = self.link(server)
        with self.assertRaises(ConnectionEndError) as e:
            client.RecvBuffer(timeout=10)
        self.assertEqual(e.exception.code, StatusCode.UNAVAILABLE)
        self.assertIn("without messages (idle_timeout)", e.exception.message)

    def test_keepalive_declares_a_silent_peer_lost(self):
        # A peer that completes the handshake, then never reads nor answers.
        port, accepted = ts.accept_one_handshake(self, self.key)
        options = ConnectionOptions(keepalive_interval=0.1, keepalive_timeout=0.1)
        client = Bridge.Link('127.0.0.1', port, key=self.key, options=options)
        accepted()
        self.addCleanup(client.connection.abort)
        with self.assertRaises(ConnectionEndError) as e:
            client.RecvBuffer(timeout=10)
        self.assertEqual(e.exception.code, StatusCode.UNAVAILABLE)
        self.assertIn("(keepalive)", e.exception.message)

    def test_the_python_server_answers_pings(self):
        server = self.serve(AcceptPolicy())
        options = ConnectionOptions(keepalive_interval=0.2, keepalive_timeout=1.0)
        client = Bridge.Link('127.0.0.1', server.port, key=self.key, options=options)
        self.addCleanup(client.connection.abort)
        with self.assertRaises(netstructer.NetStructerError) as e:
            client.RecvBuffer(timeout=2.5)  # Ten intervals: PINGs answered.
        self.assertEqual(e.exception.code, StatusCode.DEADLINE_EXCEEDED)


if __name__ == "__main__":
    ts.main()
