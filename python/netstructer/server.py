"""Server: sessions by client IP under an accept policy (the original
module's ``Server``, with the C++ server's semantics).

    server = Server(('0.0.0.0', 5000), key=KEY)
    server.init()
    server.listen()
    session = server.get('192.168.1.4')   # the oldest live session of that IP
    print(session.RecvBuffer(timeout=5))

A session stays in the registry while it lives, and after its peer has gone
while it holds unread messages (until RecvBuffer reports its end).

Threads: one accepts; each connection gets one thread that runs its
handshake (under the policy's deadline) and then reads the session. The
session registry (``_sessions``, in establishment order) is guarded by
``_lock``; a session leaves it when its connection ends, or by pop()/clear().
"""

import logging
import queue
import socket
import threading
import time

from . import handshake as H
from . import handshake_io
from . import keys as _keys
from . import rpc_server
from .accept_policy import AcceptPolicy
from .bridge import Bridge, _parse_address
from .connection import ConnectionOptions
from .errors import (ConnectionEndError, NetStructerError, ServerInitializeError,
                     StatusCode)

_log = logging.getLogger("netstructer")
_DISPLACED = ("the server is full: your unfinished handshake gave way to a newer "
              "connection; try again")


class _Pending:
    """A handshake in progress: its socket, and how far it got (which
    sequence number a refusal would carry)."""

    def __init__(self, sock):
        self.sock = sock
        self.lock = threading.Lock()
        self.sequence = 0
        self.displaced = False
        self.done = False  # The handshake completed: no refusal any more.


def _close_gently(sock):
    """Closes a refused connection so that its REFUSAL arrives: closing with
    unread bytes (the rest of an HTTP request) would send a reset that may
    destroy it in the peer's buffers; so shut our side, read what is left
    for a moment, then close."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0.25)
        for _ in range(16):
            if not sock.recv(4096):
                break
    except OSError:
        pass
    sock.close()


class Server:
    def __init__(self, addr, port=None, *, key=None, key_file=None, keys=None,
                 insecure=False, policy=None, options=None,
                 max_concurrent_streams=rpc_server.W.DEFAULT_MAX_CONCURRENT_STREAMS,
                 max_streaming_handlers=rpc_server.DEFAULT_MAX_STREAMING_HANDLERS,
                 handler_threads=rpc_server.DEFAULT_HANDLER_THREADS):
        self._host, self._port = _parse_address(addr, port)
        if insecure:
            if key is not None or key_file is not None or keys is not None:
                raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                                       "insecure=True takes no key")
            self._keys = None
        else:
            self._keys = _keys.key_ring(key=key, key_file=key_file, keys=keys)
        self.policy = policy or AcceptPolicy()
        base = options or ConnectionOptions()
        self._options = base.copy(idle_timeout=self.policy.idle_timeout,
                                  max_lifetime=self.policy.max_session_lifetime)
        self._replay_guard = H.ReplayGuard()
        self._lock = threading.Lock()
        self._sessions_changed = threading.Condition(self._lock)
        self._listener = None
        self._sessions = []          # Bridges, oldest first.
        self._pending = []           # _Pending, oldest first.
        self._accepting = False
        self._queue = None           # New sessions for accept(), once listen_on ran.
        self._shut_down = False
        self._accept_thread = None
        # RPC methods; every session serves them (none: UNIMPLEMENTED).
        self._services = rpc_server.Services(max_concurrent_streams,
                                             max_streaming_handlers, handler_threads)

    # --- starting ------------------------------------------------------------

    def init(self):
        """Binds and listens on the address (port 0: any free port)."""
        with self._lock:
            if self._listener is not None:
                raise ServerInitializeError("init() was already called")
            try:
                infos = socket.getaddrinfo(self._host or None, self._port,
                                           type=socket.SOCK_STREAM,
                                           flags=socket.AI_PASSIVE)
                family, kind, proto, _, address = infos[0]
                listener = socket.socket(family, kind, proto)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(address)
                listener.listen(1024)
            except OSError as e:
                raise NetStructerError(
                    StatusCode.UNAVAILABLE,
                    f"cannot listen on {self._host}:{self._port}: {e.strerror or e}") from None
            self._listener = listener
        return self

    @property
    def address(self):
        """"host:port" the server listens on (the real port after port 0)."""
        host, port = self._listener.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def port(self):
        return self._listener.getsockname()[1]

    def listen(self):
        """Starts accepting in the background."""
        self._start_accepting(queue_sessions=False)
        return self

    def listen_on(self, func):
        """Starts accepting, then runs ``func(self)`` on this thread; it takes
        each newly authenticated session with ``accept()``. Returns what
        ``func`` returns (the server keeps running)."""
        self._start_accepting(queue_sessions=True)
        return func(self)

    def accept(self, timeout=None):
        """The next newly authenticated session (after listen_on started).
        DEADLINE_EXCEEDED after ``timeout``, UNAVAILABLE after shutdown."""
        if self._queue is None:
            raise ServerInitializeError("accept() needs listen_on()")
        try:
            bridge = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise NetStructerError(StatusCode.DEADLINE_EXCEEDED,
                                   "no new session in time") from None
        if bridge is None:
            self._queue.put(None)
            raise NetStructerError(StatusCode.UNAVAILABLE, "the server was shut down")
        return bridge

    def _start_accepting(self, queue_sessions):
        with self._lock:
            if self._listener is None:
                raise ServerInitializeError("the initialize function must be called "
                                            "(init() before listen())")
            if self._shut_down:
                raise ServerInitializeError("the server was shut down")
            if queue_sessions and self._queue is None:
                self._queue = queue.Queue()
            if self._accepting:
                return
            self._accepting = True
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name="netstructer-accept")
        self._accept_thread.start()

    # --- accepting -----------------------------------------------------------

    def _accept_loop(self):
        while True:
            try:
                sock, peer = self._listener.accept()
            except OSError:
                return  # shutdown() closed the listener.
            if self._shut_down:
                sock.close()
                return
            self._admit(sock, peer)

    def _admit(self, sock, peer):
        ip = peer[0]
        with self._lock:
            displaceable = sum(1 for p in self._pending if not p.done)
        try:
            admission = self.policy.admit(ip, displaceable)
        except NetStructerError as e:
            self._refuse(sock, 0, e.code, e.message)
            sock.close()
            return
        if admission.displaces and not self._displace_oldest_handshake():
            # Every handshake counted has completed since: none gives way,
            # and the newcomer is refused as if none had been in progress.
            admission.release()
            self._refuse(sock, 0, StatusCode.RESOURCE_EXHAUSTED, admission.refusal)
            sock.close()
            return
        pending = _Pending(sock)
        with self._lock:
            self._pending.append(pending)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=self._serve, args=(sock, peer, admission, pending),
                         daemon=True, name=f"netstructer-session-{ip}").start()

    def _displace_oldest_handshake(self):
        """Refuses the oldest handshake in progress that has not completed
        (a completed one may no longer be refused, 7.1); False if none."""
        with self._lock:
            candidates = [p for p in self._pending if not p.done and not p.displaced]
        for oldest in candidates:
            with oldest.lock:  # serve_handshake writes and completes under it.
                if oldest.displaced or oldest.done:
                    continue
                oldest.displaced = True
                self._refuse(oldest.sock, oldest.sequence,
                             StatusCode.RESOURCE_EXHAUSTED, _DISPLACED)
                try:
                    oldest.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._drop_pending(oldest)
            return True
        return False

    @staticmethod
    def _refuse(sock, sequence, code, reason):
        frame = handshake_io._handshake_frame(sequence, 0x08,
                                              H.encode_refusal(code, reason))
        try:
            sock.settimeout(1.0)
            sock.sendall(frame)
        except OSError:
            pass

    def _serve(self, sock, peer, admission, pending):
        deadline = time.monotonic() + self.policy.handshake_timeout
        with self._lock:
            keys = self._keys
        try:
            connection = handshake_io.serve_handshake(
                sock, peer[:2], keys, deadline, self._options,
                replay_guard=self._replay_guard, guard=pending)
        except Exception as e:  # noqa: BLE001 - a refusal, or a bug: same cleanup.
            if not isinstance(e, NetStructerError):
                _log.exception("netstructer: a handshake failed")
            admission.release()
            self._drop_pending(pending)
            _close_gently(sock)
            return
        admission.establish()
        bridge = Bridge(connection)
        bridge._admission = admission
        connection.end_listeners.append(
            lambda conn, error: self._on_session_end(bridge, admission))
        connection.drained_listeners.append(
            lambda conn: self._remove_session(bridge, admission))
        with self._lock:
            if pending in self._pending:
                self._pending.remove(pending)
            refused = pending.displaced or self._shut_down
            if not refused:
                self._sessions.append(bridge)
                self._sessions_changed.notify_all()
                self._services.attach(connection)
                if self._queue is not None:
                    self._queue.put(bridge)
        if refused:  # Outside the lock: ending runs the end listeners.
            connection.abort()
            return
        connection.start(run_reader_here=True)

    def _drop_pending(self, pending):
        with self._lock:
            if pending in self._pending:
                self._pending.remove(pending)

    def _on_session_end(self, bridge, admission):
        # The slot goes back at once: a peer that has gone holds none. A
        # session whose peer has gone stays in the registry while it holds
        # unread messages (a client that sends and disconnects at once loses
        # nothing) and leaves once RecvBuffer has reported its end, or by
        # pop()/clear(); at most max_sessions_per_ip of those per address,
        # max_sessions in all, the oldest dropped (and logged) beyond.
        admission.release()
        if not bridge.connection.has_unread_messages():
            self._remove_session(bridge, admission)
            return
        per_ip = self.policy.max_sessions_per_ip or 64
        total = self.policy.max_sessions or 10000
        dropped = []
        with self._lock:
            ended = [b for b in self._sessions if b.ended() is not None]
            same_ip = [b for b in ended if b.peer_ip == bridge.peer_ip]
            while len(same_ip) > per_ip:
                dropped.append(same_ip.pop(0))
            ended = [b for b in ended if b not in dropped]
            while len(ended) > total:
                dropped.append(ended.pop(0))
            for b in dropped:
                if b in self._sessions:
                    self._sessions.remove(b)
        for b in dropped:
            _log.warning("netstructer: dropped the unread messages of an ended session "
                         "from %s (too many ended sessions kept unread)", b.peer_address)
            b.connection.discard_unread_messages()

    def _remove_session(self, bridge, admission):
        admission.release()
        with self._lock:
            if bridge in self._sessions:
                self._sessions.remove(bridge)
                self._sessions_changed.notify_all()

    # --- the original module's container ----------------------------------------

    def count(self):
        with self._lock:
            return len(self._sessions)

    def all(self):
        with self._lock:
            return list(self._sessions)

    def get(self, ip, timeout=None):
        """The oldest session of ``ip`` (a newcomer never shadows an
        established one), or None. With ``timeout`` (seconds), waits that
        long for one to arrive rather than answer None at once."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                for bridge in self._sessions:
                    if bridge.peer_ip == ip:
                        return bridge
                remaining = 0 if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._sessions_changed.wait(remaining)

    def get_all(self, ip):
        with self._lock:
            return [b for b in self._sessions if b.peer_ip == ip]

    def pop(self, ip):
        """Removes the session get(ip) would return and gives it to the caller,
        still open; the server no longer tracks or closes it. None if none."""
        with self._lock:
            for i, bridge in enumerate(self._sessions):
                if bridge.peer_ip == ip:
                    popped = self._sessions.pop(i)
                    break
            else:
                return None
        popped._admission.release()  # The server no longer counts it.
        return popped

    def clear(self):
        """Closes every session (the peers see GOAWAY, then the close) and
        removes it. Returns how many."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for bridge in sessions:
            try:
                bridge.Close(0.2)
            except NetStructerError:
                pass
        return len(sessions)

    # --- RPC -------------------------------------------------------------------

    def add_service(self, service_name, handlers):
        """Serves the methods of "pkg.Service": {method name: MethodHandler}
        (what generated ``add_XServicer_to_server`` calls)."""
        self._services.add(service_name, handlers)

    # --- keys -----------------------------------------------------------------

    def set_keys(self, keys):
        """Replaces the key ring for handshakes from now on."""
        ring = _keys.key_ring(keys=keys)
        with self._lock:
            if self._keys is None:
                raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                                       "an insecure server has no keys")
            self._keys = ring

    # --- stopping -------------------------------------------------------------

    def shutdown(self, timeout=1.0):
        """Stops accepting, ends calls in flight (RPC), closes every session
        with GOAWAY. Idempotent."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
            listener = self._listener
            pending, self._pending = self._pending, []
            services = self._services
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for p in pending:
            try:
                p.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        services.shutdown(timeout)
        self.clear()
        if self._queue is not None:
            self._queue.put(None)
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)

    stop = shutdown

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
