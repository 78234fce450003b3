"""A call's protobuf messages to and from bytes, checked as the C++ stubs
check them (rpc/typed_message.h): a proto2 message missing a required field
is an error that names the fields, with the code the caller chooses
(INVALID_ARGUMENT for what a client sends or a server receives, INTERNAL
for what a server answers or a client receives), never a bare
EncodeError from the serializer or a message accepted half-filled."""

from google.protobuf.message import Message

from .errors import RpcError


def _missing(message, code, what):
    fields = ", ".join(message.FindInitializationErrors())
    return RpcError(code, f"{what} ({message.DESCRIPTOR.full_name}) is missing "
                          f"required fields: {fields}")


def serialize(serializer, message, code, what):
    """``serializer(message)``; RpcError(code) when it cannot be."""
    if isinstance(message, Message) and not message.IsInitialized():
        raise _missing(message, code, what)
    try:
        return serializer(message)
    except Exception as e:  # noqa: BLE001 - the caller's serializer.
        raise RpcError(code, f"cannot serialize {what}: {type(e).__name__}: {e}") from None


def parse(deserializer, body, code, what):
    """``deserializer(body)`` (the bytes when there is none); RpcError(code)
    when they do not parse or leave a required field unset."""
    if deserializer is None:
        return body
    try:
        message = deserializer(body)
    except Exception as e:  # noqa: BLE001 - the caller's deserializer.
        raise RpcError(code, f"{what} does not parse: {type(e).__name__}: {e}") from None
    if isinstance(message, Message) and not message.IsInitialized():
        raise _missing(message, code, what)
    return message
