"""Bridge: the original module's client and session object, without its flaws.

    from netstructer import Bridge
    bridge = Bridge.Link(('127.0.0.1', 5000), key=KEY)
    bridge.SendBuffer(['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 6, 4}, (False, True)])
    print(bridge.RecvBuffer(timeout=5))

Values travel as netstructer.Value (values.py), never pickle; any protobuf
message travels typed. A message is delivered whole or not at all, falsy
values are messages like any other, and every failure is an exception with a
status code. Thread-safe: any thread may send while another receives;
waiting releases the GIL.
"""

import struct
import time

from google.protobuf import message as _pb_message
from google.protobuf import symbol_database as _symbol_database

from . import handshake_io
from . import keys as _keys
from . import streams
from . import values
from .connection import ConnectionOptions
from .errors import BufferDataError, ConnectionEndError, NetStructerError, StatusCode

_U16 = struct.Struct(">H")


class TypedMessage:
    """A typed message (kind 0x02) whose type this process does not know:
    its fully-qualified ``type_name`` and protobuf bytes ``data``, so nothing
    is lost. Parse it with the generated class: ``Cls.FromString(m.data)``."""

    __slots__ = ("type_name", "data")

    def __init__(self, type_name, data):
        self.type_name = type_name
        self.data = data

    def __repr__(self):
        return f"TypedMessage({self.type_name!r}, {len(self.data)} bytes)"

    def __eq__(self, other):
        return (isinstance(other, TypedMessage) and other.type_name == self.type_name
                and other.data == self.data)


def _parse_address(addr, port):
    if port is not None:
        return addr, int(port)
    if isinstance(addr, tuple) and len(addr) >= 2:
        return addr[0], int(addr[1])
    if isinstance(addr, str) and ":" in addr:
        host, _, p = addr.rpartition(":")
        return host.strip("[]"), int(p)
    raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                           f"an address is (host, port) or 'host:port', got {addr!r}")


class Bridge:
    """One end of an authenticated connection's Bridge stream."""

    def __init__(self, connection):
        self._connection = connection
        self._timeout = None
        self._closed = None

    # --- making one ----------------------------------------------------------

    @classmethod
    def Link(cls, addr, port=None, *, key=None, key_file=None, insecure=False,
             timeout=10.0, options=None, source=None):
        """Connects to a server: ``Link(('host', port), key=KEY)`` as the
        original module took its address, or ``Link('host', port, key=KEY)``.

        ``key`` is the 44-character key text (``netstructer keygen``),
        ``key_file`` a chmod-600 key file (its first key is used);
        ``insecure=True`` (plaintext frames) only against an insecure server.
        ``timeout`` bounds connecting plus the handshake. Raises
        ConnectionEndError: UNAUTHENTICATED for a key the server does not
        hold, PERMISSION_DENIED for an address it denies, UNAVAILABLE when it
        cannot be reached.
        """
        host, port = _parse_address(addr, port)
        if insecure:
            if key is not None or key_file is not None:
                raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                                       "insecure=True takes no key")
            key_obj = None
        else:
            key_obj = _keys.key_ring(key=key, key_file=key_file)[0]
        connection = handshake_io.connect(host, port, key_obj, timeout=timeout,
                                          options=options, source=source)
        connection.start()
        return cls(connection)

    # --- sending and receiving ---------------------------------------------

    def SendBuffer(self, buffer, timeout=None):
        """Sends one value (or protobuf message) as one message.

        Returns the size of the message body in bytes. Raises a
        ``values.ValueTypeError`` (a TypeError) for an object that is not a
        value, ``InvalidValueError`` for one that cannot travel, and the
        connection's ConnectionEndError once it has ended.
        """
        self._check_open()
        if isinstance(buffer, _pb_message.Message):
            name = buffer.DESCRIPTOR.full_name.encode("utf-8")
            body = _U16.pack(len(name)) + name + buffer.SerializeToString()
            kind = streams.KIND_TYPED
        else:
            body = values.encode(buffer, self._connection.options.max_depth)
            kind = streams.KIND_VALUE
        if len(body) > self._connection.options.max_message_bytes:
            raise BufferDataError(
                f"a message of {len(body)} bytes exceeds the limit of "
                f"{self._connection.options.max_message_bytes} bytes "
                "(max_message_bytes)", code=StatusCode.INVALID_ARGUMENT)
        timeout = self._timeout if timeout is None else timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        self._connection.send_message(kind, body, deadline)
        return len(body)

    def RecvBuffer(self, size=None, buffer_size=-1, timeout=None, buffer=None):
        """The next value (or protobuf message) from the peer.

        ``timeout`` in seconds (None: the Bridge's TimeOut, else forever).
        ``buffer_size`` (the original's name): a message larger than that many
        bytes raises BufferDataError and stays queued; -1 means no limit but
        max_message_bytes. ``size`` (or ``buffer``) was the original's read
        size; frames are read whole now, so it is accepted and unused.

        Raises DEADLINE_EXCEEDED when nothing arrived in time,
        BufferDataError (RESOURCE_EXHAUSTED) for a message over a limit,
        InvalidValueError (INVALID_ARGUMENT) for a message that does not
        decode (it is consumed), and ConnectionEndError at the end of the
        stream: OUT_OF_RANGE when the peer closed cleanly after every message
        it sent was read.
        """
        del size, buffer
        self._check_open()
        timeout = self._timeout if timeout is None else timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        max_bytes = None if buffer_size is None or buffer_size < 0 else buffer_size
        try:
            message = self._connection.next_message(deadline, max_bytes)
        except NetStructerError as e:
            if e.code == StatusCode.RESOURCE_EXHAUSTED and not isinstance(e, ConnectionEndError):
                raise BufferDataError(e.message) from None
            raise
        if message.error is not None:
            raise BufferDataError(message.error.message)
        body = streams.body_bytes(message)
        if message.kind == streams.KIND_VALUE:
            return values.decode(body, self._connection.options.max_depth)
        return _typed_message(body)

    def Close(self, timeout=5.0):
        """Closes gracefully: returns once the peer confirmed it received
        every message sent before (its GOAWAY answered ours); raises
        ConnectionEndError saying why otherwise. Later calls raise
        FAILED_PRECONDITION "this Bridge was closed"."""
        if self._closed is not None:
            return
        self._closed = ConnectionEndError(StatusCode.FAILED_PRECONDITION,
                                          "this Bridge was closed")
        self._connection.close(timeout)

    def TimeOut(self, out):
        """The default timeout of RecvBuffer and SendBuffer, in seconds
        (None: wait forever), as the original's TimeOut."""
        self._timeout = out

    def _check_open(self):
        if self._closed is not None:
            raise self._closed

    # --- about the connection ------------------------------------------------

    @property
    def peer_ip(self):
        return self._connection.peer[0] if self._connection.peer else None

    @property
    def peer_address(self):
        host, port = self._connection.peer
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def key_index(self):
        """Which key of the server's ring this session uses (server side)."""
        return self._connection.key_index

    @property
    def connection(self):
        return self._connection

    def ended(self):
        """The ConnectionEndError once the connection has ended, else None."""
        return self._connection.ended

    # Snake-case spellings for new code.
    send_buffer = SendBuffer
    recv_buffer = RecvBuffer
    close = Close

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.Close()
        else:
            self._closed = ConnectionEndError(StatusCode.FAILED_PRECONDITION,
                                              "this Bridge was closed")
            self._connection.abort()

    def __repr__(self):
        return f"<netstructer.Bridge {self.peer_address}>"


def _typed_message(body):
    if len(body) < 2:
        raise values.InvalidValueError("a typed message without its type name")
    n = _U16.unpack_from(body)[0]
    if len(body) < 2 + n:
        raise values.InvalidValueError("a typed message shorter than its type name")
    try:
        name = bytes(body[2:2 + n]).decode("utf-8")
    except UnicodeDecodeError:
        raise values.InvalidValueError("a typed message whose type name is not UTF-8") from None
    data = bytes(body[2 + n:])
    try:
        cls = _symbol_database.Default().GetSymbol(name)
    except KeyError:
        return TypedMessage(name, data)
    try:
        return cls.FromString(data)
    except _pb_message.DecodeError as e:
        raise values.InvalidValueError(f"a {name} that does not parse: {e}") from None
