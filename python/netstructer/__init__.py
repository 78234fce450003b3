"""NetStructer for Python: the wire of docs/PROTOCOL.md, the original
module's API without its flaws.

    from netstructer import Bridge, Server

Depends only on what Debian ships: python3-cryptography, python3-lz4,
python3-protobuf.
"""

from .accept_policy import AcceptPolicy
from .bridge import Bridge, TypedMessage
from .channel import Channel
from .connection import ConnectionOptions
from .errors import (BufferDataError, ConnectionEndError, Error, NetStructerError,
                     Refused, RpcError, ServerInitializeError, StatusCode)
from .keys import generate_key, load_key_file
from .server import Server
from .values import InvalidValueError, ValueTypeError

__version__ = "0.3.0"

__all__ = [
    "AcceptPolicy", "Bridge", "BufferDataError", "Channel", "ConnectionEndError",
    "ConnectionOptions", "Error", "InvalidValueError", "NetStructerError",
    "Refused", "RpcError", "Server", "ServerInitializeError", "StatusCode",
    "TypedMessage", "ValueTypeError", "generate_key", "load_key_file",
]
