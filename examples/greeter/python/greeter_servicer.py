"""greeter.Greeter in Python, as examples/greeter/greeter_service.cc: the
servicer greeter_server.py serves (and the interop tests use)."""

import netstructer
from examples.greeter import greeter_ns, greeter_pb2

MAX_REPEAT = 100


def _check_name(request, context):
    if not request.name:
        context.abort(netstructer.StatusCode.INVALID_ARGUMENT, "name is empty")


class Greeter(greeter_ns.GreeterServicer):
    """greeter.Greeter, as examples/greeter/greeter_service.cc."""

    def SayHello(self, request, context):
        _check_name(request, context)
        return greeter_pb2.HelloReply(message=f"Hello, {request.name}")

    def SayHelloStream(self, request_iterator, context):
        for request in request_iterator:
            _check_name(request, context)
            yield greeter_pb2.HelloReply(message=f"Hello, {request.name}")

    def SayHelloRepeatedly(self, request, context):
        _check_name(request, context)
        if not 0 <= request.count <= MAX_REPEAT:
            context.abort(netstructer.StatusCode.INVALID_ARGUMENT,
                          f"count is {request.count}, not 0 to {MAX_REPEAT}")
        for _ in range(max(1, request.count)):
            yield greeter_pb2.HelloReply(message=f"Hello, {request.name}")

    def SayHelloToAll(self, request_iterator, context):
        names = []
        for request in request_iterator:
            _check_name(request, context)
            names.append(request.name)
        if not names:
            context.abort(netstructer.StatusCode.INVALID_ARGUMENT, "no name was sent")
        everyone = names[-1] if len(names) == 1 else \
            ", ".join(names[:-1]) + " and " + names[-1]
        return greeter_pb2.HelloReply(message=f"Hello, {everyone}")
