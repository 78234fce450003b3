"""Running the handshake over a socket (docs/PROTOCOL.md 7.1, 7.7).

``connect()`` makes a client connection and ``serve_handshake()`` answers
one on an accepted socket; both return a ``connection.Connection`` that is
not yet reading. Handshake frames are read exactly (a length, then that
many bytes), so the first secure frames a client sends right behind its
ClientFinished stay in the socket for the connection's reader.
"""

import contextlib
import socket
import struct
import threading
import time

from . import frames as F
from . import handshake as H
from .connection import Connection, ConnectionOptions
from .errors import ConnectionEndError, NetStructerError, Refused, StatusCode

_U32 = struct.Struct(">I")


def _foreign_protocol(prefix):
    if prefix == b"HTTP":
        return "HTTP (an HTTP server's response)"
    if prefix in (b"GET ", b"POST", b"PUT ", b"HEAD", b"DELE", b"OPTI", b"PATC",
                  b"CONN", b"PRI "):
        return "HTTP (an HTTP client's request)"
    if prefix[0] in (0x15, 0x16) and prefix[1] == 0x03:
        return "TLS (a TLS record)"
    if prefix == b"SSH-":
        return "SSH"
    return None


def _recv_exact(sock, n, deadline, what):
    data = bytearray()
    while len(data) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        sock.settimeout(remaining)
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(what)
        data += chunk
    return bytes(data)


def _read_handshake_frame(sock, deadline, expected_sequence, malformed):
    """The inner Frame of the next handshake frame; ``malformed(why)`` builds
    the error for a framing problem."""
    prefix = _recv_exact(sock, 4, deadline, "length prefix")
    length = _U32.unpack(prefix)[0]
    if length == 0 or length > H.MAX_HANDSHAKE_FRAME_BYTES:
        foreign = _foreign_protocol(prefix)
        if foreign is not None:
            raise malformed(f"not a NetStructer handshake: the peer speaks {foreign}")
        raise malformed(f"a handshake frame of {length} bytes (at most "
                        f"{H.MAX_HANDSHAKE_FRAME_BYTES})")
    body = _recv_exact(sock, length, deadline, "frame")
    try:
        frame = F.decode_inner(body)
    except NetStructerError as e:
        raise malformed(e.message) from None
    if frame.sequence != expected_sequence:
        raise malformed(f"frame out of sequence: expected {expected_sequence}, "
                        f"got {frame.sequence}")
    return frame


@contextlib.contextmanager
def _socket_errors(error_class):
    """Socket failures during a handshake, as ``error_class(code, message)``."""
    try:
        yield
    except socket.timeout:
        raise error_class(StatusCode.DEADLINE_EXCEEDED,
                          "the handshake did not complete in time") from None
    except EOFError:
        raise error_class(StatusCode.UNAVAILABLE,
                          "the peer closed the connection during the handshake") from None
    except OSError as e:
        raise error_class(StatusCode.UNAVAILABLE,
                          f"the connection was lost during the handshake: "
                          f"{e.strerror or e}") from None


def _handshake_frame(sequence, type, payload):
    inner = F.encode_inner(sequence, 0, type, 0, payload)
    return _U32.pack(len(inner)) + inner


class LateRefusalOpener(F.FrameOpener):
    """The client's opener: the server's first frame after a ClientFinished
    may be a plaintext REFUSAL at server sequence 1 (7.1), told apart from a
    token by its first byte."""

    def __init__(self, key, **kwargs):
        super().__init__(key, **kwargs)
        self._first = key is not None

    def open(self, body):
        if self._first:
            self._first = False
            if body[:1] == b"\x00":
                try:
                    frame = F.decode_inner(body)
                except NetStructerError:
                    frame = None
                if (frame is not None and frame.type == F.REFUSAL and frame.sequence == 1
                        and frame.stream == 0 and frame.flags == 0):
                    error = H.decode_refusal(frame.payload)
                    raise Refused(error.code, error.message)
        return super().open(body)


def connect(host, port, key=None, timeout=10.0, options=None, source=None,
            client=None):
    """A client Connection to host:port after a complete handshake.

    ``key`` None means insecure mode. ``timeout`` bounds connecting and the
    handshake together. ``client`` (tests) is a ClientHandshake to use.
    """
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout,
                                        source_address=source)
    except socket.timeout:
        raise ConnectionEndError(StatusCode.DEADLINE_EXCEEDED,
                                 f"connecting to {host}:{port} timed out") from None
    except OSError as e:
        raise ConnectionEndError(StatusCode.UNAVAILABLE,
                                 f"cannot connect to {host}:{port}: "
                                 f"{e.strerror or e}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        return _client_handshake(sock, host, port, key, deadline, options, client)
    except BaseException:
        sock.close()
        raise


def _client_handshake(sock, host, port, key, deadline, options, client):
    def malformed(why):
        return ConnectionEndError(StatusCode.DATA_LOSS, why)
    client = client or H.ClientHandshake(key)
    with _socket_errors(ConnectionEndError):
        sock.sendall(_handshake_frame(0, F.HANDSHAKE, client.hello()))
        frame = _read_handshake_frame(sock, deadline, 0, malformed)
        if frame.type == F.REFUSAL and frame.stream == 0 and frame.flags == 0:
            error = H.decode_refusal(frame.payload)
            if error.code == StatusCode.DATA_LOSS and error.message.startswith("malformed"):
                raise ConnectionEndError(error.code, error.message)
            raise Refused(error.code, error.message)
        if frame.type != F.HANDSHAKE or frame.stream != 0 or frame.flags != 0:
            raise malformed("malformed ServerHello: expected a HANDSHAKE or REFUSAL "
                            "frame on stream 0 without flags")
        try:
            finished = client.on_server_hello(frame.payload)
        except NetStructerError as e:
            raise ConnectionEndError(e.code, e.message) from None
        if finished:
            sock.sendall(_handshake_frame(1, F.HANDSHAKE, finished))
    sock.settimeout(None)
    options = options or ConnectionOptions()
    sealer = F.FrameSealer(client.c2s)
    opener = LateRefusalOpener(client.s2c,
                               max_decompressed_bytes=options.max_frame_bytes)
    return Connection(sock, sealer, opener, "client", options, peer=(host, port))


class _Unguarded:
    """What serve_handshake writes under when no server displaces handshakes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.displaced = False
        self.done = False
        self.sequence = 0


def serve_handshake(sock, peer, keys, deadline, options=None, replay_guard=None,
                    server=None, guard=None):
    """Answers one client's handshake on an accepted socket.

    Returns a server Connection, or raises NetStructerError (after sending
    the REFUSAL the spec gives; nothing at the deadline or on EOF). The
    caller closes the socket on failure. ``guard`` (.lock, .displaced,
    .sequence) is shared with whoever may refuse this handshake from
    another thread (a newcomer displacing it): every write to the socket
    and the sequence it reached happen under its lock, so two refusals, or
    a refusal inside a ServerHello, never reach the peer.
    """
    guard = guard or _Unguarded()
    def malformed(why):
        prefix = "malformed handshake: "
        return NetStructerError(StatusCode.INVALID_ARGUMENT,
                                why if why.startswith("not a NetStructer") else prefix + why)
    server = server or H.ServerHandshake(keys, replay_guard=replay_guard)
    sequence = 0
    with _socket_errors(NetStructerError):
        try:
            frame = _read_handshake_frame(sock, deadline, 0, malformed)
            if frame.type != F.HANDSHAKE or frame.stream != 0 or frame.flags != 0:
                raise malformed("expected a HANDSHAKE frame on stream 0 without flags")
            reply = server.on_client_hello(frame.payload)
            with guard.lock:
                if guard.displaced:
                    raise EOFError("displaced")
                sock.sendall(_handshake_frame(0, F.HANDSHAKE, reply))
                guard.sequence = sequence = 1
                # Insecure mode is complete at the ServerHello: a refusal
                # after it would be a protocol error for the client (7.1).
                guard.done = keys is None
            if keys is not None:
                frame = _read_handshake_frame(sock, deadline, 1, malformed)
                if frame.type != F.HANDSHAKE or frame.stream != 0 or frame.flags != 0:
                    raise malformed("expected a HANDSHAKE frame on stream 0 without flags")
                server.on_client_finished(frame.payload)
            with guard.lock:  # From here on no one may refuse it.
                if guard.displaced:
                    raise EOFError("displaced")
                guard.done = True
        except NetStructerError as e:
            # A refusal: the peer learns why (malformed input included).
            reason = e.message
            if reason.startswith("not a NetStructer handshake"):
                reason = "malformed handshake"
            with guard.lock:
                if not guard.displaced:
                    guard.displaced = True  # No other refusal after this one.
                    try:
                        sock.sendall(_handshake_frame(sequence, F.REFUSAL,
                                                      H.encode_refusal(e.code, reason)))
                    except OSError:
                        pass
            raise
    sock.settimeout(None)
    options = options or ConnectionOptions()
    sealer = F.FrameSealer(server.s2c)
    opener = F.FrameOpener(server.c2s, max_decompressed_bytes=options.max_frame_bytes)
    return Connection(sock, sealer, opener, "server", options, peer=peer,
                      key_index=server.key_index)
