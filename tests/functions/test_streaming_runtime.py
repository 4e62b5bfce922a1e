"""tunnel_shared.streaming_runtime against a loopback Runtime API (tests/functions/runtime_api.py).

There is no real Lambda Runtime API here: the server is a stand-in that speaks the documented
one ("Using the Lambda runtime API for custom runtimes", runtimes-api.html) and records what the
loop sends, byte for byte. What is asserted is the wire of a streamed response as the Lambda
developer guide and the Node.js runtime interface client send it
(aws/aws-lambda-nodejs-runtime-interface-client, src/stream/): ``Lambda-Runtime-Function-
Response-Mode: streaming``, ``Transfer-Encoding: chunked``, a ``Trailer`` header naming
``Lambda-Runtime-Function-Error-Type`` and ``-Body``, ``Content-Type: application/
vnd.awslambda.http-integration-response``, API Gateway's JSON prelude then 8 null bytes, each
write a chunk of its own, and the error trailers after the last chunk. Chunks are awaited as
they arrive: each is on the wire before the handler writes the next.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tunnel_shared import streaming_runtime
from tunnel_shared.limits import STREAM_PRELUDE_MAX_BYTES
from tunnel_shared.streaming_runtime import CallerGone, Entry, ResponseStream, RuntimeApi

from tests.conftest import PROJECT
from tests.functions.runtime_api import WAIT_SECONDS, RuntimeApiServer

REST_EVENT = {
    "resource": "/{proxy+}",
    "path": "/events",
    "httpMethod": "GET",
    "headers": {"Host": "demo.tunnel.example.com"},
    "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": "GET", "stage": "live"},
    "body": None,
    "isBase64Encoded": False,
}
HTTP_API_EVENT = {"version": "2.0", "routeKey": "$default", "rawPath": "/events"}
ENVIRON = {"AWS_LAMBDA_FUNCTION_NAME": "http-tunnel-forwarding-dev"}
STREAM_HEADERS = [
    ("Lambda-Runtime-Function-Response-Mode", "streaming"),
    ("Transfer-Encoding", "chunked"),
    ("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"),
    ("Content-Type", "application/vnd.awslambda.http-integration-response"),
]


@pytest.fixture
def server() -> Iterator[RuntimeApiServer]:
    api = RuntimeApiServer()
    yield api
    api.close()


def serve_in_background(server: RuntimeApiServer, entry: Entry) -> threading.Thread:
    """One turn of the loop (next invocation, its answer) on a thread of its own."""
    api = RuntimeApi(server.address)
    thread = threading.Thread(
        target=streaming_runtime.serve_one, args=(api, entry, ENVIRON), daemon=True
    )
    thread.start()
    return thread


def buffered(event: Any, context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": f"buffered {context.aws_request_id}"}


def test_each_write_reaches_the_runtime_api_as_a_chunk_before_the_next(server):
    steps = [threading.Event() for _ in range(3)]

    def stream_handler(event: Any, context: Any, stream: ResponseStream) -> None:
        stream.start(
            200,
            [("Content-Type", "text/event-stream"), ("X-Many", "a"), ("X-Many", "b")],
            ["session=1; Path=/"],
        )
        for number, step in enumerate(steps):
            assert step.wait(WAIT_SECONDS)
            stream.write(f"data: {number}\n\n".encode())
        stream.close()

    thread = serve_in_background(server, Entry(buffered, stream_handler))
    server.invoke(REST_EVENT, request_id="req-stream")
    posted = server.next_post()
    assert (posted.method, posted.path) == (
        "POST",
        "/2018-06-01/runtime/invocation/req-stream/response",
    )
    assert [(k, v) for k, v in posted.headers if k in dict(STREAM_HEADERS)] == STREAM_HEADERS
    assert posted.header("Content-Length") is None
    metadata = {
        "statusCode": 200,
        "headers": {"Content-Type": "text/event-stream"},
        "multiValueHeaders": {"X-Many": ["a", "b"]},
        "cookies": ["session=1; Path=/"],
    }
    assert posted.next_chunk() == json.dumps(metadata, separators=(",", ":")).encode() + b"\0" * 8
    for number, step in enumerate(steps):
        step.set()  # the handler writes only now: the chunk cannot have been held back
        assert posted.next_chunk() == f"data: {number}\n\n".encode()
    assert posted.next_chunk() is None  # the zero-length last chunk
    assert posted.wait().trailers == []
    thread.join(WAIT_SECONDS)
    assert not thread.is_alive()


def test_an_error_after_the_first_byte_ends_the_body_with_the_error_trailers(server):
    def stream_handler(event: Any, context: Any, stream: ResponseStream) -> None:
        stream.start(200, {"Content-Type": "text/plain"})
        stream.write(b"partial")
        raise ValueError("the agent went quiet")

    serve_in_background(server, Entry(buffered, stream_handler))
    server.invoke(REST_EVENT)
    posted = server.next_post().wait()
    assert posted.body.endswith(b"\0" * 8 + b"partial")
    trailers = dict(posted.trailers)
    assert list(trailers) == [
        "Lambda-Runtime-Function-Error-Type",
        "Lambda-Runtime-Function-Error-Body",
    ]
    assert trailers["Lambda-Runtime-Function-Error-Type"] == "ValueError"
    error = json.loads(base64.b64decode(trailers["Lambda-Runtime-Function-Error-Body"]))
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "the agent went quiet")
    assert isinstance(error["stackTrace"], list)


def test_an_error_before_the_first_byte_goes_to_the_error_endpoint(server):
    def stream_handler(event: Any, context: Any, stream: ResponseStream) -> None:
        raise KeyError("no tunnel")

    serve_in_background(server, Entry(buffered, stream_handler))
    server.invoke(REST_EVENT, request_id="req-error")
    posted = server.next_post().wait()
    assert posted.path == "/2018-06-01/runtime/invocation/req-error/error"
    assert posted.header("Lambda-Runtime-Function-Error-Type") == "KeyError"
    assert posted.header("Lambda-Runtime-Function-Response-Mode") is None
    document = json.loads(posted.body)
    assert (document["errorType"], document["errorMessage"]) == ("KeyError", "'no tunnel'")


def test_a_stream_handler_that_never_starts_is_a_runtime_error(server):
    serve_in_background(server, Entry(buffered, lambda event, context, stream: None))
    server.invoke(REST_EVENT, request_id="req-silent")
    posted = server.next_post().wait()
    assert posted.path == "/2018-06-01/runtime/invocation/req-silent/error"
    assert posted.header("Lambda-Runtime-Function-Error-Type") == "Runtime.StreamNotStarted"


def test_http_api_events_are_answered_buffered_by_handler(server):
    def stream_handler(event: Any, context: Any, stream: ResponseStream) -> None:
        raise AssertionError("an HTTP API event must not stream")

    serve_in_background(server, Entry(buffered, stream_handler))
    server.invoke(HTTP_API_EVENT, request_id="req-buffered")
    posted = server.next_post().wait()
    assert posted.path == "/2018-06-01/runtime/invocation/req-buffered/response"
    assert posted.header("Lambda-Runtime-Function-Response-Mode") is None
    assert posted.header("Transfer-Encoding") is None
    assert json.loads(posted.body) == {"statusCode": 200, "body": "buffered req-buffered"}


def test_without_a_stream_handler_rest_events_are_buffered_too(server):
    serve_in_background(server, Entry(buffered, None))
    server.invoke(REST_EVENT, request_id="req-plain")
    posted = server.next_post().wait()
    assert json.loads(posted.body) == {"statusCode": 200, "body": "buffered req-plain"}


def test_a_write_after_the_caller_went_away_raises_caller_gone(server):
    server.drop_after_first_chunk = True
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def stream_handler(event: Any, context: Any, stream: ResponseStream) -> None:
        stream.start(200)
        written = 0
        try:
            # The reset reaches the sender within a few writes (its first may still be buffered
            # by the kernel); each write goes to the socket at once, so one fails.
            while written < 10_000:
                stream.write(b"x" * 1024)
                written += 1
        except CallerGone:
            outcome["writes"] = written
            outcome["gone"] = stream.gone
        finally:
            done.set()

    thread = serve_in_background(server, Entry(buffered, stream_handler))
    server.invoke(REST_EVENT)
    server.next_post().wait()
    assert done.wait(WAIT_SECONDS)
    assert outcome["gone"] is True
    assert outcome["writes"] < 10_000
    thread.join(WAIT_SECONDS)
    assert not thread.is_alive()  # the loop carries on to the next invocation


def test_the_stream_api_refuses_misuse():
    class Sink:
        def open(self) -> None: ...
        def send(self, data: bytes) -> None: ...
        def finish(self) -> None: ...
        def fail(self, error_type: str, error_body: bytes) -> None: ...

    stream = ResponseStream(Sink())
    with pytest.raises(RuntimeError, match="start"):
        stream.write(b"early")
    with pytest.raises(ValueError, match=f"within the first {STREAM_PRELUDE_MAX_BYTES} bytes"):
        stream.start(200, {"X-Big": "y" * STREAM_PRELUDE_MAX_BYTES})
    stream = ResponseStream(Sink())
    stream.start(204)
    with pytest.raises(TypeError, match="bytes, not str"):
        stream.write("text")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="already started"):
        stream.start(200)


def test_a_handler_that_cannot_be_imported_is_an_init_error(server, tmp_path):
    environ = {
        "AWS_LAMBDA_RUNTIME_API": server.address,
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "_HANDLER": "missing_module.handler",
    }
    assert streaming_runtime.main(environ) == 1
    posted = server.next_post().wait()
    assert posted.path == "/2018-06-01/runtime/init/error"
    assert posted.header("Lambda-Runtime-Function-Error-Type") == "Runtime.ImportModuleError"
    assert json.loads(posted.body)["errorType"] == "ModuleNotFoundError"


def test_the_exec_wrapper_runs_the_loop_on_the_interpreter_lambda_gives_it(server, tmp_path):
    """As Lambda starts it: ``exec_wrapper <interpreter> <runtime's arguments>``, in the task
    root, with the Runtime API's address in the environment."""
    task_root = tmp_path / "task"
    task_root.mkdir()
    shutil.copy2(PROJECT / "functions/forwarding/exec_wrapper", task_root / "exec_wrapper")
    shutil.copytree(PROJECT / "functions/tunnel_shared", task_root / "tunnel_shared")
    (task_root / "handler.py").write_text(
        "def handler(event, context):\n"
        "    return {'statusCode': 200, 'body': 'plain'}\n\n\n"
        "def stream_handler(event, context, stream):\n"
        "    stream.start(200, {'Content-Type': 'text/plain'})\n"
        "    stream.write(b'streamed')\n"
        "    stream.close()\n"
    )
    environment = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": server.address,
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": "handler.handler",
    }
    runtime = subprocess.Popen(
        [str(task_root / "exec_wrapper"), sys.executable, "/var/runtime/bootstrap.py"],
        cwd=tmp_path,  # not the task root: the wrapper must find the code without it
        env=environment,
    )
    try:
        server.invoke(REST_EVENT)
        posted = server.next_post().wait()
        assert posted.header("Lambda-Runtime-Function-Response-Mode") == "streaming"
        assert posted.body == b'{"statusCode":200,"headers":{"Content-Type":"text/plain"}}' + (
            b"\0" * 8 + b"streamed"
        )
        server.invoke(HTTP_API_EVENT, request_id="req-2")
        assert json.loads(server.next_post().wait().body) == {"statusCode": 200, "body": "plain"}
    finally:
        runtime.kill()
        runtime.wait()


def test_the_forwarding_zip_ships_an_executable_exec_wrapper(tmp_path):
    import io
    import zipfile

    from tests.test_packaging import copy_functions
    from tunnel_infra.packaging import package

    # cp --no-preserve=mode drops the checkout's exec bit: the zip's mode must not depend on it.
    root = copy_functions(tmp_path / "functions", umask=0o077, mtime=1_600_000_000)
    assert not os.access(root / "functions/forwarding/exec_wrapper", os.X_OK)
    archive = zipfile.ZipFile(io.BytesIO(package(root, "forwarding").data))
    modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert modes.pop("exec_wrapper") == 0o100755
    assert "tunnel_shared/streaming_runtime.py" in modes
    assert set(modes.values()) == {0o100644}
    assert Path(PROJECT / "functions/forwarding/exec_wrapper").read_bytes().startswith(b"#!")
