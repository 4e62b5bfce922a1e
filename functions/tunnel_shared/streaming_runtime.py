"""A Lambda runtime loop for Python that can stream responses (standard library only).

"Lambda supports response streaming on Node.js managed runtimes. For other languages, you can use
a custom runtime with a custom Runtime API integration to stream responses" ("Response streaming
for Lambda functions", https://docs.aws.amazon.com/lambda/latest/dg/configuration-response-
streaming.html). This module is that integration, run inside the managed python3.12 runtime by an
exec wrapper (``functions/forwarding/exec_wrapper``: ``AWS_LAMBDA_EXEC_WRAPPER``): Lambda hands
the wrapper the interpreter and the runtime's own arguments, and the wrapper starts this loop
instead ("Modifying the runtime environment", wrapper scripts,
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-modify.html#runtime-wrapper).

The loop speaks the Runtime API ("Using the Lambda runtime API for custom runtimes",
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) at ``AWS_LAMBDA_RUNTIME_API``:
``GET /2018-06-01/runtime/invocation/next``, then ``POST .../<request id>/response`` or
``.../<request id>/error``; ``POST /2018-06-01/runtime/init/error`` if the handler cannot be
loaded (then it exits, and Lambda starts the environment again).

**Which entry point runs.** ``_HANDLER`` names the module and its buffered handler as for the
managed runtime (``handler.handler``: ``handler(event, context) -> result``). The same module
may offer ``stream_handler(event, context, stream)``. The Runtime API does not say how an
invocation was made (``/next`` gives the request id, deadline, ARN, trace id, client context and
Cognito identity only), so the loop decides by the event, in :func:`streamed_event`: an API
Gateway REST API proxy event (it has ``httpMethod`` and no ``version``) goes to ``stream_handler``
because the tunnel's REST API integration is ``ResponseTransferMode: STREAM``, which invokes with
InvokeWithResponseStream; anything else (the HTTP API's version 2.0 events, direct invokes) goes
to ``handler`` and is answered buffered, as the managed runtime would. A module without
``stream_handler`` is always answered buffered.

**Streaming.** ``stream_handler`` gets a :class:`ResponseStream`: ``start(status, headers,
cookies)`` opens the response (``POST .../response`` with ``Lambda-Runtime-Function-Response-
Mode: streaming``, ``Transfer-Encoding: chunked``, ``Trailer`` naming the two error trailers,
``Content-Type: application/vnd.awslambda.http-integration-response``) and sends API Gateway's
JSON prelude then 8 null bytes; ``write(data)`` sends one chunk at once (no buffering: server-
sent events arrive as written); ``close()`` sends the last chunk. The wire is the Node.js runtime
interface client's (aws/aws-lambda-nodejs-runtime-interface-client, src/stream/constants.ts,
response-stream.ts, http-response-stream.ts) and API Gateway's format ("Set up a Lambda proxy
integration with payload response streaming in API Gateway", https://docs.aws.amazon.com/
apigateway/latest/developerguide/response-transfer-mode-lambda.html: the metadata keys
``statusCode``, ``headers``, ``multiValueHeaders``, ``cookies``, then 8 null bytes within the
first 16 KB). Errors: one raised before ``start`` is reported to ``/error`` as a buffered
handler's is; one raised after ends the chunked body with the trailers
``Lambda-Runtime-Function-Error-Type`` and ``Lambda-Runtime-Function-Error-Body`` (base64 of the
error's JSON), as the Node.js client does.

**A caller that went away.** A write that cannot be sent raises :class:`CallerGone` (and
``stream.gone`` turns true); the function should stop then. On AWS a client that disconnects
may not reach the function at all ("the Lambda function might continue to execute",
response-transfer-mode.html): this is the only signal there is, and it may never come.
"""

from __future__ import annotations

import base64
import http.client
import importlib
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tunnel_shared.limits import STREAM_PRELUDE_MAX_BYTES

RUNTIME_API_VERSION = "2018-06-01"
RESPONSE_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
STREAMING = "streaming"
ERROR_TYPE_TRAILER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"
PRELUDE_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
DELIMITER = b"\0" * 8
STREAM_HANDLER = "stream_handler"  # the module attribute a streaming invocation calls
PRELUDE_KEYS = ("statusCode", "headers", "multiValueHeaders", "cookies")

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
Handler = Callable[[Any, Any], Any]
StreamHandler = Callable[[Any, Any, "ResponseStream"], Any]


class CallerGone(Exception):
    """The response can no longer be sent: the caller (or Lambda's end of it) went away."""


class RuntimeFailure(Exception):
    """The runtime's own failure (reported as ``Runtime.<name>``), not the handler's."""


class HandlerNotFound(RuntimeFailure):
    pass


class StreamNotStarted(RuntimeFailure):
    pass


class StreamSink(Protocol):
    """Where a :class:`ResponseStream`'s bytes go: the Runtime API here, the local gateway's
    pipe in its worker (``local_gateway.function_worker``)."""

    def open(self) -> None:
        """Begin the response (its headers); raises :class:`CallerGone` if it cannot."""

    def send(self, data: bytes) -> None:
        """Send ``data`` at once; raises :class:`CallerGone` if it cannot."""

    def finish(self) -> None:
        """End the response normally."""

    def fail(self, error_type: str, error_body: bytes) -> None:
        """End the response with an error (the Runtime API's trailers)."""


def error_document(error: BaseException) -> dict[str, Any]:
    """The error as the Python runtime reports it: errorMessage, errorType, stackTrace."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def error_type(error: BaseException) -> str:
    """The ``Lambda-Runtime-Function-Error-Type`` of ``error``: ``Runtime.<name>`` for the
    runtime's own failures (a handler that cannot be imported or found), else its class name."""
    if isinstance(error, ImportError | SyntaxError):
        return "Runtime.ImportModuleError"
    if isinstance(error, RuntimeFailure):
        return f"Runtime.{type(error).__name__}"
    return type(error).__name__


def prelude(
    status: int = 200, headers: Headers | None = None, cookies: Iterable[str] | None = None
) -> bytes:
    """API Gateway's metadata and delimiter: single-valued headers under ``headers``, repeated
    ones under ``multiValueHeaders``, ``Set-Cookie`` values under ``cookies``."""
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status code, not {status!r}")
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(f"header {name!r}: names and values must be strings")
        grouped.setdefault(name, []).append(value)
    metadata: dict[str, Any] = {"statusCode": status}
    single = {name: values[0] for name, values in grouped.items() if len(values) == 1}
    multi = {name: values for name, values in grouped.items() if len(values) > 1}
    if single:
        metadata["headers"] = single
    if multi:
        metadata["multiValueHeaders"] = multi
    cookie_list = list(cookies or ())
    if cookie_list:
        metadata["cookies"] = cookie_list
    data = json.dumps(metadata, separators=(",", ":")).encode() + DELIMITER
    if len(data) > STREAM_PRELUDE_MAX_BYTES:
        raise ValueError(
            f"the status, headers and cookies take {len(data)} bytes; API Gateway needs them "
            f"within the first {STREAM_PRELUDE_MAX_BYTES} bytes of the stream"
        )
    return data


class ResponseStream:
    """One streamed HTTP response: ``start`` once, ``write`` any number of times, ``close``."""

    def __init__(self, sink: StreamSink) -> None:
        self._sink = sink
        self.started = False
        self.closed = False
        self.gone = False  # a write failed: nobody is reading any more

    def start(
        self,
        status: int = 200,
        headers: Headers | None = None,
        cookies: Iterable[str] | None = None,
    ) -> None:
        """Send the status, headers and cookies (the caller gets them at once)."""
        if self.started:
            raise RuntimeError("the response has already started")
        data = prelude(status, headers, cookies)
        self.started = True
        self._guarded(self._sink.open)
        self._guarded(lambda: self._sink.send(data))

    def write(self, data: bytes) -> None:
        """Send ``data`` to the caller now, as one chunk. Raises :class:`CallerGone` when the
        caller went away."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"write takes bytes, not {type(data).__name__}")
        if not self.started:
            raise RuntimeError("start() the response before writing to it")
        if self.closed:
            raise RuntimeError("the response is closed")
        if self.gone:
            raise CallerGone("the caller went away")
        if len(data):
            self._guarded(lambda: self._sink.send(bytes(data)))

    def close(self) -> None:
        """End the response (once; later calls do nothing)."""
        if self.closed or self.gone:
            self.closed = True
            return
        if not self.started:
            raise RuntimeError("close() before start(): the response has no status")
        self.closed = True
        self._guarded(self._sink.finish)

    def fail(self, error: BaseException) -> None:
        """End a started response with ``error`` (the runtime calls this when the handler raises
        after ``start``)."""
        if self.closed or self.gone:
            return
        self.closed = True
        document = json.dumps(error_document(error)).encode()
        try:
            self._sink.fail(error_type(error), document)
        except CallerGone:
            self.gone = True

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except CallerGone:
            self.gone = True
            raise


def streamed_event(event: Any) -> bool:
    """Does the runtime answer ``event`` with ``stream_handler``? An API Gateway REST API proxy
    event does (``httpMethod``, no ``version``: "Input format of a Lambda function for proxy
    integration", https://docs.aws.amazon.com/apigateway/latest/developerguide/
    set-up-lambda-proxy-integrations.html); HTTP API events carry ``version`` ("1.0" or "2.0")."""
    return (
        isinstance(event, dict)
        and "httpMethod" in event
        and "version" not in event
        and isinstance(event.get("requestContext"), dict)
    )


# --- The Runtime API --------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    request_id: str
    deadline_ms: int
    function_arn: str
    trace_id: str | None
    client_context: str | None
    cognito_identity: str | None
    payload: bytes


class Context:
    """The ``context`` argument, with the attributes the managed Python runtime's has."""

    def __init__(self, invocation: Invocation, environ: Mapping[str, str]) -> None:
        self.aws_request_id = invocation.request_id
        self.invoked_function_arn = invocation.function_arn
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = _json_or_none(invocation.cognito_identity)
        self.client_context = _json_or_none(invocation.client_context)
        self._deadline_ms = invocation.deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _json_or_none(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


class RuntimeApi:
    """The Runtime API's endpoints, over one keep-alive connection for ``/next`` and the
    buffered answers, and a connection of its own for each streamed response."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.host = host or address
        self.port = int(port) if host else 80
        self._connection: http.client.HTTPConnection | None = None

    def _base(self) -> str:
        return f"/{RUNTIME_API_VERSION}/runtime"

    def connection(self) -> http.client.HTTPConnection:
        if self._connection is None:
            # No timeout: /next waits as long as there is no invocation (runtimes-api.html:
            # "Do not set a timeout on the GET request").
            self._connection = http.client.HTTPConnection(self.host, self.port)
        return self._connection

    def _call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = self.connection()
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            self._connection = None
            raise
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def next(self) -> Invocation:
        status, headers, body = self._call("GET", f"{self._base()}/invocation/next")
        if status != 200:
            raise RuntimeError(f"/invocation/next answered {status}: {body[:200]!r}")
        return Invocation(
            request_id=headers["lambda-runtime-aws-request-id"],
            deadline_ms=int(headers.get("lambda-runtime-deadline-ms", "0")),
            function_arn=headers.get("lambda-runtime-invoked-function-arn", ""),
            trace_id=headers.get("lambda-runtime-trace-id"),
            client_context=headers.get("lambda-runtime-client-context"),
            cognito_identity=headers.get("lambda-runtime-cognito-identity"),
            payload=body,
        )

    def respond(self, request_id: str, body: bytes) -> None:
        path = f"{self._base()}/invocation/{request_id}/response"
        self._call("POST", path, body, {"Content-Type": "application/json"})

    def error(self, request_id: str, error: BaseException) -> None:
        self._post_error(f"{self._base()}/invocation/{request_id}/error", error)

    def init_error(self, error: BaseException) -> None:
        self._post_error(f"{self._base()}/init/error", error)

    def _post_error(self, path: str, error: BaseException) -> None:
        document = error_document(error)
        headers = {"Content-Type": "application/json", ERROR_TYPE_TRAILER: error_type(error)}
        self._call("POST", path, json.dumps(document).encode(), headers)

    def stream_sink(self, request_id: str) -> StreamSink:
        return _ChunkedResponse(self, f"{self._base()}/invocation/{request_id}/response")


class _ChunkedResponse:
    """A streamed ``/response``: chunked, each write on the wire at once."""

    def __init__(self, api: RuntimeApi, path: str) -> None:
        self._api = api
        self._path = path
        self._connection: http.client.HTTPConnection | None = None

    def open(self) -> None:
        connection = http.client.HTTPConnection(self._api.host, self._api.port)
        self._connection = connection
        try:
            connection.connect()
            # Each write is a packet now, not when Nagle's algorithm has gathered enough.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.putrequest("POST", self._path, skip_accept_encoding=True)
            connection.putheader(RESPONSE_MODE_HEADER, STREAMING)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.putheader("Trailer", f"{ERROR_TYPE_TRAILER}, {ERROR_BODY_TRAILER}")
            connection.putheader("Content-Type", PRELUDE_CONTENT_TYPE)
            connection.endheaders()
        except OSError as error:
            raise CallerGone(f"cannot open the response: {error}") from None

    def send(self, data: bytes) -> None:
        self._raw(b"%x\r\n%s\r\n" % (len(data), data))

    def finish(self) -> None:
        self._raw(b"0\r\n\r\n")
        self._read_answer()

    def fail(self, error_type: str, error_body: bytes) -> None:
        trailers = (
            f"{ERROR_TYPE_TRAILER}: {error_type}\r\n"
            f"{ERROR_BODY_TRAILER}: {base64.b64encode(error_body).decode()}\r\n"
        )
        self._raw(b"0\r\n" + trailers.encode() + b"\r\n")
        self._read_answer()

    def _raw(self, data: bytes) -> None:
        assert self._connection is not None and self._connection.sock is not None
        try:
            self._connection.sock.sendall(data)
        except OSError as error:
            self._connection.close()
            raise CallerGone(f"the response connection closed: {error}") from None

    def _read_answer(self) -> None:
        assert self._connection is not None
        try:
            self._connection.getresponse().read()
        except (OSError, http.client.HTTPException):
            pass  # sent in full; what the Runtime API thinks of it changes nothing now
        finally:
            self._connection.close()


@dataclass(frozen=True)
class Entry:
    handler: Handler
    stream_handler: StreamHandler | None


def load(handler_name: str, task_root: str) -> Entry:
    """Import ``module.attribute`` from the task root, as the managed runtime does."""
    module_path, _, attribute = handler_name.rpartition(".")
    if not module_path:
        raise HandlerNotFound(f"bad handler {handler_name!r}: expected module.function")
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    module = importlib.import_module(module_path)
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise HandlerNotFound(f"{module_path} has no function {attribute}")
    stream_handler = getattr(module, STREAM_HANDLER, None)
    return Entry(handler, stream_handler if callable(stream_handler) else None)


def serve_one(api: RuntimeApi, entry: Entry, environ: Mapping[str, str]) -> None:
    """Take the next invocation and answer it."""
    invocation = api.next()
    if invocation.trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = invocation.trace_id  # as the managed runtime sets it
    context = Context(invocation, environ)
    try:
        event = json.loads(invocation.payload)
    except ValueError as error:
        api.error(invocation.request_id, error)
        return
    if entry.stream_handler is not None and streamed_event(event):
        _stream(api, entry.stream_handler, invocation.request_id, event, context)
        return
    try:
        result = entry.handler(event, context)
        body = json.dumps(result).encode()
    except Exception as error:  # noqa: BLE001 - reported to Lambda as the invocation's error
        traceback.print_exc()
        api.error(invocation.request_id, error)
        return
    api.respond(invocation.request_id, body)


def _stream(
    api: RuntimeApi, stream_handler: StreamHandler, request_id: str, event: Any, context: Context
) -> None:
    stream = ResponseStream(api.stream_sink(request_id))
    error = answer_stream(stream_handler, event, context, stream)
    if error is not None:
        api.error(request_id, error)
    elif stream.gone:
        print(f"{request_id}: the caller went away; the response is abandoned", file=sys.stderr)


def answer_stream(
    stream_handler: StreamHandler, event: Any, context: Any, stream: ResponseStream
) -> BaseException | None:
    """Run ``stream_handler`` on ``stream`` and end the stream: closed once it returns, ended
    with the error trailers if it raised after ``start``. Returns the error to report as the
    invocation's (``/error``) when there was no first byte, else None. Shared with the local
    gateway's worker, which gives the stream a sink of its own."""
    try:
        stream_handler(event, context, stream)
        if not stream.started:
            raise StreamNotStarted("the stream handler returned without starting its response")
        stream.close()
    except CallerGone:
        return None
    except Exception as error:  # noqa: BLE001 - reported as the invocation's error
        traceback.print_exc()
        if not stream.started:
            return error
        stream.fail(error)
    return None


def main(environ: Mapping[str, str] | None = None) -> int:
    """The loop: load the handler once, then answer invocations until Lambda stops us."""
    environ = os.environ if environ is None else environ
    api = RuntimeApi(environ["AWS_LAMBDA_RUNTIME_API"])
    task_root = environ.get("LAMBDA_TASK_ROOT") or str(Path.cwd())
    try:
        entry = load(environ.get("_HANDLER", "handler.handler"), task_root)
    except Exception as error:  # noqa: BLE001 - any import failure is an init error
        traceback.print_exc()
        api.init_error(error)
        return 1
    while True:
        serve_one(api, entry, environ)


if __name__ == "__main__":
    sys.exit(main())
