"""The RPC API in one import, for programs and for generated ``*_ns.py``:

    from netstructer import rpc
    channel = rpc.Channel('127.0.0.1:50051', key=KEY)

Channel (client), the method-handler constructors (server), StatusCode and
RpcError. ``RUNTIME_VERSION`` is what generated code checks.
"""

from .channel import Channel
from .client_calls import Call, CallFuture
from .errors import RpcError, StatusCode
from .rpc_server import (MethodHandler, ServicerContext,
                         stream_stream_rpc_method_handler,
                         stream_unary_rpc_method_handler,
                         unary_stream_rpc_method_handler,
                         unary_unary_rpc_method_handler)

# The version of the API generated Python code is written against; bumped
# when generated code would need to change.
RUNTIME_VERSION = 1

__all__ = [
    "Call", "CallFuture", "Channel", "MethodHandler", "RUNTIME_VERSION", "RpcError",
    "ServicerContext", "StatusCode", "stream_stream_rpc_method_handler",
    "stream_unary_rpc_method_handler", "unary_stream_rpc_method_handler",
    "unary_unary_rpc_method_handler",
]
