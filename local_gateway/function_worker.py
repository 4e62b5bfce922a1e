"""One deployed function's execution environment: ``python -m local_gateway.function_worker SPEC``.

The gateway (``local_gateway.lambda_runtime``) starts one per function, with exactly that
function's environment, and talks to it over its stdin and stdout in lines of ASCII
(``json.dumps`` output has no newline and no other byte above 127):

    gateway -> worker   <id> <event JSON>
                        <id> stream <event JSON>     a streamed invocation (below)
                        <id> gone                    its caller went away
    worker -> gateway   0 ready {"error": null | "Runtime.ImportModuleError: ..."}
                        <id> ok <result JSON>
                        <id> raised {"reason", "error_message", "traceback"}
                        <id> error {"reason"}
                        <id> chunk <base64 of the bytes written>
                        <id> end {}
                        <id> failed {"error_type", "error_body"}

A streamed invocation runs the module's ``stream_handler(event, context, stream)`` as
``tunnel_shared.streaming_runtime`` does on AWS (``answer_stream``), with the function's own copy
of that module (its zip's, from the task root) and a stream whose bytes come back as ``chunk``
lines the moment they are written: API Gateway's prelude and delimiter, then the body. ``end``
is the last chunk, ``failed`` the Runtime API's error trailers (the handler raised after its
first byte); ``raised`` or ``error`` before any chunk, as for a buffered invocation. After
``gone``, the handler's next write raises ``CallerGone``.

The handler is imported once (a warm Lambda keeps its module) and each invocation runs on a
thread of its own, as they arrive: the replies come back in any order. The worker exits when its
stdin ends, so it does not outlive the gateway; running invocations are abandoned then, as in a
Lambda environment that shuts down. ``SPEC`` is JSON: name, arn, handler, timeout_seconds,
memory_mb and task_root (the function's code folder: ``LAMBDA_TASK_ROOT``).

What the handler prints (stdout and stderr) goes to the worker's stderr, a pipe the gateway
reads: as Lambda's platform reads a runtime's output from outside its process, so that a line
printed just before a crash is kept. Lambda's ``START``/``END``/``REPORT`` lines go there too,
marked (``lambda_logs.PLATFORM_MARK``) for the log stream only (local_gateway.lambda_logs).
"""

from __future__ import annotations

import base64
import importlib
import json
import math
import os
import resource
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from local_gateway.deployment import DeployedFunction
from local_gateway.lambda_context import LambdaContext
from local_gateway.lambda_logs import PLATFORM_MARK

# The id of the one unsolicited line, the worker's first.
READY_ID = 0
# Handlers block (boto3, the forwarding function's polling up to 27 s): 50 concurrent public
# requests plus the agents' messages must each get a thread. Lambda would add environments.
THREADS = 128
# Services the functions reach; creating one client of each before any thread does avoids
# boto3's default-session races (Lambda never runs two invocations in one process).
_WARM_SERVICES = ("dynamodb", "secretsmanager", "apigatewaymanagementapi")

Handler = Callable[[Any, Any], Any]


def spec_of(function: DeployedFunction, task_root: Path) -> str:
    """The command-line argument that describes ``function`` to its worker."""
    spec: dict[str, Any] = {
        "name": function.name,
        "arn": function.arn,
        "handler": function.handler,
        "timeout_seconds": function.timeout_seconds,
        "memory_mb": function.memory_mb,
        "task_root": str(task_root),
    }
    return json.dumps(spec)


def _platform_line(line: str) -> None:
    """A line of Lambda's own, for the log stream only: one write, so never split by a line
    a handler thread prints meanwhile."""
    try:
        os.write(2, f"{PLATFORM_MARK}{line}\n".encode())
    except OSError:
        pass  # the gateway is gone


@contextmanager
def _lambda_lines(function: DeployedFunction, context: LambdaContext) -> Iterator[None]:
    """Lambda's START, END and REPORT lines around an invocation (operator guide, "How
    CloudWatch structures logs"); in the log stream only, not on the gateway's stderr."""
    request_id = context.aws_request_id
    _platform_line(f"START RequestId: {request_id} Version: $LATEST")
    started = time.perf_counter()
    try:
        yield
    finally:
        took = (time.perf_counter() - started) * 1000
        used_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux
        _platform_line(f"END RequestId: {request_id}")
        _platform_line(
            f"REPORT RequestId: {request_id}\tDuration: {took:.2f} ms\t"
            f"Billed Duration: {math.ceil(took)} ms\tMemory Size: {function.memory_mb} MB\t"
            f"Max Memory Used: {used_mb} MB"
        )


class _PipeSink:
    """A streamed response's bytes, sent to the gateway as they are written."""

    def __init__(self, replies: _Replies, invocation: int, caller_gone: type[Exception]) -> None:
        self._replies = replies
        self._invocation = invocation
        self._caller_gone = caller_gone
        self.gone = threading.Event()

    def open(self) -> None:
        self._check()

    def send(self, data: bytes) -> None:
        self._check()
        self._replies.send(self._invocation, "chunk", base64.b64encode(data).decode())

    def finish(self) -> None:
        self._replies.send(self._invocation, "end", "{}")

    def fail(self, error_type: str, error_body: bytes) -> None:
        body = {"error_type": error_type, "error_body": error_body.decode()}
        self._replies.send(self._invocation, "failed", json.dumps(body))

    def _check(self) -> None:
        if self.gone.is_set():
            raise self._caller_gone("the caller went away")


class _Replies:
    """The protocol's output: one whole line per write, from any thread."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, invocation: int, kind: str, body: str) -> None:
        line = f"{invocation} {kind} {body}\n".encode()
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


def _warm() -> None:
    try:
        import boto3

        for service in _WARM_SERVICES:
            boto3.client(service)
        boto3.resource("dynamodb")  # loads the resource model once, before threads race for it
    except Exception:  # noqa: BLE001 - only a head start; the handler reports real failures
        pass


def load(function: DeployedFunction, task_root: Path) -> Handler | str:
    """Import the handler as Lambda does (its folder first on ``sys.path``), or say why not."""
    module_path, _, attribute = function.handler.rpartition(".")
    sys.path.insert(0, str(task_root))
    try:
        module = importlib.import_module(module_path)
    except BaseException:  # noqa: BLE001 - any import failure is the function's failure
        return "Runtime.ImportModuleError: " + traceback.format_exc(limit=-3).strip()
    handler = getattr(module, attribute, None)
    if not callable(handler):
        source = task_root / (module_path.replace(".", "/") + ".py")
        return f"Runtime.HandlerNotFound: {source} has no function {attribute}"
    return handler


def run(function: DeployedFunction, handler: Handler, payload: bytes) -> tuple[str, str]:
    """One invocation, its failures turned into the reply's kind and body."""
    name = function.name
    context = LambdaContext(function)
    try:
        with _lambda_lines(function, context):
            result = handler(json.loads(payload), context)
    except BaseException as error:  # noqa: BLE001 - Lambda reports any escape as an error
        return "raised", json.dumps(
            {
                "reason": f"{name} raised {type(error).__name__}",
                "error_message": str(error),
                "traceback": traceback.format_exc().rstrip(),
            }
        )
    try:
        text = json.dumps(result)
    except (TypeError, ValueError) as error:
        return "error", json.dumps({"reason": f"{name}: Runtime.MarshalError: {error}"})
    return "ok", text


def run_streamed(
    function: DeployedFunction, payload: bytes, replies: _Replies, invocation: int
) -> tuple[str, str] | None:
    """A streamed invocation: None once its stream has ended (``end`` or ``failed`` sent), else
    the reply that says why there was no stream."""
    name = function.name
    module_path = function.handler.rpartition(".")[0]
    try:
        # The function's own copy, from its task root (first on sys.path), as its zip ships it.
        runtime = importlib.import_module("tunnel_shared.streaming_runtime")
    except ImportError as error:
        return "error", json.dumps(
            {"reason": f"{name}: its package has no tunnel_shared.streaming_runtime ({error})"}
        )
    stream_handler = getattr(sys.modules[module_path], runtime.STREAM_HANDLER, None)
    if not callable(stream_handler):
        reason = f"Runtime.HandlerNotFound: {module_path} has no {runtime.STREAM_HANDLER}"
        return "error", json.dumps({"reason": f"{name}: {reason}"})
    event = json.loads(payload)
    if not runtime.streamed_event(event):
        reason = "its runtime would answer this event buffered (streamed_event is false)"
        return "error", json.dumps({"reason": f"{name}: {reason}"})
    sink = _PipeSink(replies, invocation, runtime.CallerGone)
    _SINKS[invocation] = sink
    try:
        stream = runtime.ResponseStream(sink)
        context = LambdaContext(function)
        with _lambda_lines(function, context):
            error = runtime.answer_stream(stream_handler, event, context, stream)
    finally:
        _SINKS.pop(invocation, None)
    if error is not None:
        return "raised", json.dumps(
            {
                "reason": f"{name} raised {type(error).__name__}",
                "error_message": str(error),
                "traceback": "".join(traceback.format_exception(error)).rstrip(),
            }
        )
    if stream.gone:
        replies.send(invocation, "end", "{}")  # nobody reads it; the gateway forgets the id
    return None


# Streamed invocations in progress, by id: a ``gone`` line reaches its sink.
_SINKS: dict[int, _PipeSink] = {}
_STREAM = b"stream "
_GONE = b"gone\n"


def _serve(
    function: DeployedFunction, handler: Handler, requests: BinaryIO, replies: _Replies
) -> None:
    def invocation(invocation_id: int, payload: bytes) -> None:
        try:
            if payload.startswith(_STREAM):
                reply = run_streamed(function, payload[len(_STREAM) :], replies, invocation_id)
                if reply is None:
                    return
                kind, body = reply
            else:
                kind, body = run(function, handler, payload)
        except BaseException as error:  # noqa: BLE001 - e.g. an event that is not JSON
            kind, body = "error", json.dumps({"reason": f"{function.name}: {error!r}"})
        replies.send(invocation_id, kind, body)

    pool = ThreadPoolExecutor(THREADS, thread_name_prefix=function.name)
    for line in requests:
        if not line.endswith(b"\n"):
            break  # the gateway died mid-line
        invocation_id, _, payload = line.partition(b" ")
        if payload == _GONE:
            sink = _SINKS.get(int(invocation_id))
            if sink is not None:
                sink.gone.set()
            continue
        pool.submit(invocation, int(invocation_id), payload)


def main(argv: Sequence[str]) -> int:
    spec = json.loads(argv[0])
    task_root = Path(spec["task_root"])
    function = DeployedFunction(
        name=spec["name"],
        arn=spec["arn"],
        handler=spec["handler"],
        timeout_seconds=int(spec["timeout_seconds"]),
        memory_mb=int(spec["memory_mb"]),
        environment=dict(os.environ),
        policy=None,
    )
    # Ctrl-C reaches the terminal's whole process group: the gateway stops its workers itself,
    # after the last $disconnect.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The protocol keeps the pipes; what the handler prints goes where Lambda's goes to
    # CloudWatch Logs (the gateway's stderr), and what it starts cannot hold the pipes open.
    requests = os.fdopen(os.dup(0), "rb")
    replies = _Replies(os.fdopen(os.dup(1), "wb"))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    _warm()
    handler = load(function, task_root)
    error = handler if isinstance(handler, str) else None
    replies.send(READY_ID, "ready", json.dumps({"error": error}))
    if error is not None or isinstance(handler, str):
        return 1
    _serve(function, handler, requests, replies)
    sys.stdout.flush()
    sys.stderr.flush()
    # stdin ended: the gateway stopped or died. Running handlers are abandoned, not joined.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
