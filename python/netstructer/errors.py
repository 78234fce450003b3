"""Status codes and the exceptions every part of the package raises.

One base class, NetStructerError, carries a canonical status code (the same
numbers as absl::StatusCode and gRPC) and a message, so a program catches
everything with one clause and tells cases apart by ``code``. The original
module's names stay: ``BufferDataError`` (a message over a size limit) and
``ServerInitializeError`` (a server used before ``init()``), also reachable
as ``Error.BufferDataError`` and ``Error.ServerInitializeError``.
"""

import enum


class StatusCode(enum.IntEnum):
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class NetStructerError(Exception):
    """An error with a status code: ``code`` (StatusCode), ``message`` (str).

    ``str(e)`` is ``CODE: message``, as the C++ library and the CLI print it.
    """

    def __init__(self, code, message):
        code = StatusCode(code)
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @property
    def er(self):
        # The original module's exceptions kept their text in ``er``.
        return self.message


class BufferDataError(NetStructerError):
    """A message over a size limit (RESOURCE_EXHAUSTED).

    Raised by ``RecvBuffer`` for a message over ``max_message_bytes`` (the
    message was discarded, the next one is intact) or over the call's
    ``buffer_size`` (the message stays queued), and by ``SendBuffer`` for a
    value too large to send.
    """

    def __init__(self, message, code=StatusCode.RESOURCE_EXHAUSTED):
        super().__init__(code, message)


class ServerInitializeError(NetStructerError):
    """A Server used before ``init()``, or after ``shutdown()``."""

    def __init__(self, message):
        super().__init__(StatusCode.FAILED_PRECONDITION, message)


class ConnectionEndError(NetStructerError):
    """The connection has ended; every later operation raises the same.

    OUT_OF_RANGE: the peer closed cleanly (its GOAWAY carried OK).
    UNAVAILABLE: the connection was lost, or the peer went away with it.
    DATA_LOSS / RESOURCE_EXHAUSTED / ...: the protocol error that ended it,
    found by either side (docs/PROTOCOL.md 8.4).
    """


class RpcError(NetStructerError):
    """A call ended with a status other than OK.

    ``trailing_metadata`` and ``initial_metadata`` hold what the server sent
    (lists of ``(key, bytes)``).
    """

    def __init__(self, code, message, initial_metadata=(), trailing_metadata=()):
        super().__init__(code, message)
        self.initial_metadata = list(initial_metadata)
        self.trailing_metadata = list(trailing_metadata)

    def details(self):
        return self.message


class Error:
    """The original module's namespace for its exceptions."""

    NetStructerError = NetStructerError
    BufferDataError = BufferDataError
    ServerInitializeError = ServerInitializeError
    ConnectionEndError = ConnectionEndError
    RpcError = RpcError



class Refused(ConnectionEndError):
    """The server's REFUSAL (docs/PROTOCOL.md 7.5): its code and reason. A
    refusal is not authenticated: information, not proof."""
