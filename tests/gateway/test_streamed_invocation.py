"""LambdaRuntime.invoke_streaming: a deployed function's stream_handler in its worker process,
its stream coming back chunk by chunk as it is written (streaming_function/handler.py, deployed
to the shared emulator with its own tunnel_shared, as its zip would ship it)."""

from __future__ import annotations

import asyncio
import io
import socket
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from local_gateway.deployment import Api, DeployedFunction, Deployment
from local_gateway.lambda_runtime import (
    LambdaRuntime,
    Outcome,
    Status,
    StreamEnd,
    StreamLimits,
    StreamPrelude,
)
from tests.conftest import PROJECT
from tests.emulator.conftest import aws, emulator_endpoint  # noqa: F401
from tests.functions.runtime_api import WAIT_SECONDS

SOURCE = "arn:aws:execute-api:us-east-1:123456789012:restapi/live/GET/sse"
ROLE_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":'
    '"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(PROJECT / "tests/gateway/streaming_function/handler.py", "handler.py")
        for path in sorted((PROJECT / "functions/tunnel_shared").glob("*.py")):
            archive.write(path, f"tunnel_shared/{path.name}")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def deployment(aws: Any) -> Deployment:  # noqa: F811
    role = aws("iam").create_role(
        RoleName=f"stream-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=ROLE_POLICY
    )["Role"]["Arn"]
    created = aws("lambda").create_function(
        FunctionName=f"stream-{uuid.uuid4().hex[:10]}",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Timeout=60,
        Code={"ZipFile": package()},
    )
    arn = created["FunctionArn"]
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": arn,
            }
        ]
    }
    function = DeployedFunction(
        name=created["FunctionName"],
        arn=arn,
        handler="handler.handler",
        timeout_seconds=60,
        memory_mb=128,
        environment={},
        policy=policy,
        code_sha256=created["CodeSha256"],
    )
    api = Api("none", "HTTP", "", {}, {}, {}, {})
    return Deployment("dev", "us-east-1", "123456789012", api, api, {arn: function})


@pytest.fixture
def runtime(deployment: Deployment, aws: Any) -> Iterator[LambdaRuntime]:  # noqa: F811
    """A runtime per test: its worker's pipes join the event loop of the test's asyncio.run."""
    lambda_runtime = LambdaRuntime(deployment, aws("lambda"), gateway_environment={})
    assert lambda_runtime.load() == []
    yield lambda_runtime
    lambda_runtime.close()


@pytest.fixture
def control() -> Iterator[socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT_SECONDS)
    yield listener
    listener.close()


def rest_event(path: str, control: socket.socket) -> dict[str, Any]:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": {},
        "queryStringParameters": {"port": str(control.getsockname()[1])},
        "requestContext": {"resourcePath": "/{proxy+}", "stage": "live"},
        "body": None,
        "isBase64Encoded": False,
    }


def arn_of(deployment: Deployment) -> str:
    return next(iter(deployment.functions))


async def collect(stream: Any) -> list[Any]:
    return [item async for item in stream]


def test_chunks_arrive_one_by_one_as_the_handler_writes_them(runtime, deployment, control):
    async def scenario() -> None:
        stream = runtime.invoke_streaming(
            arn_of(deployment), rest_event("/sse", control), SOURCE, 60_000
        )
        first = await anext(stream)
        assert first == StreamPrelude(
            200, (("Content-Type", "text/event-stream"), ("X-Two", "a"), ("X-Two", "b")), ("s=1",)
        )
        connection, _ = await asyncio.to_thread(control.accept)
        with connection:
            for number in range(3):
                connection.sendall(b"1")  # the handler writes chunk `number` only now
                assert await anext(stream) == f"data: {number}\n\n".encode()
        assert await anext(stream) == StreamEnd(Status.OK)

    asyncio.run(scenario())


def test_an_error_after_the_first_byte_ends_the_stream_as_raised(runtime, deployment, control):
    items = asyncio.run(
        collect(
            runtime.invoke_streaming(
                arn_of(deployment), rest_event("/raise-after", control), SOURCE, 60_000
            )
        )
    )
    assert items[:2] == [StreamPrelude(200, (), ()), b"partial"]
    assert items[2].status is Status.RAISED
    assert "raised ValueError after its first byte" in items[2].reason
    assert len(items) == 3


def test_an_error_before_the_first_byte_is_an_outcome(runtime, deployment, control):
    items = asyncio.run(
        collect(
            runtime.invoke_streaming(
                arn_of(deployment), rest_event("/raise-before", control), SOURCE, 60_000
            )
        )
    )
    assert len(items) == 1 and isinstance(items[0], Outcome)
    assert items[0].status is Status.RAISED
    assert items[0].error_message == "'no tunnel'"


def test_a_stream_without_metadata_and_delimiter_is_refused_with_a_500(
    runtime, deployment, control
):
    """rules.check_stream_prelude, through the worker: 20,000 bytes with no delimiter."""
    items = asyncio.run(
        collect(
            runtime.invoke_streaming(
                arn_of(deployment), rest_event("/no-prelude", control), SOURCE, 60_000
            )
        )
    )
    assert len(items) == 1 and isinstance(items[0], Outcome)
    assert items[0].refused is not None and items[0].refused.status == 500
    assert "no delimiter in 16384 bytes" in items[0].reason


def test_a_caller_that_lets_go_makes_the_handlers_next_write_raise(runtime, deployment, control):
    async def scenario() -> None:
        stream = runtime.invoke_streaming(
            arn_of(deployment), rest_event("/until-gone", control), SOURCE, 60_000
        )
        assert isinstance(await anext(stream), StreamPrelude)
        assert await anext(stream) == b"first"
        await stream.aclose()  # the caller went away
        connection, _ = await asyncio.to_thread(control.accept)
        connection.settimeout(WAIT_SECONDS)
        with connection:
            for _ in range(1000):  # until the worker has read "gone": each turn waits its answer
                connection.sendall(b"1")
                answer = await asyncio.to_thread(connection.recv, 5)
                if answer == b"gone":
                    return
                assert answer == b"wrote"
        raise AssertionError("the handler's writes never raised CallerGone")

    asyncio.run(scenario())


def test_an_idle_stream_is_cut_by_the_idle_timeout(runtime, deployment, control):
    limits = StreamLimits(idle_seconds=0.3)
    items = asyncio.run(
        collect(
            runtime.invoke_streaming(
                arn_of(deployment), rest_event("/idle", control), SOURCE, 60_000, limits
            )
        )
    )
    assert items[0] == StreamPrelude(200, (), ())
    assert items[1] == StreamEnd(Status.TIMEOUT, "no data for 0.3 s: the idle timeout")


def test_the_buffered_path_still_answers_with_handler(runtime, deployment, control):
    outcome = asyncio.run(runtime.invoke(arn_of(deployment), {"version": "2.0"}, SOURCE, 29_000))
    assert outcome.ok and outcome.value == {"statusCode": 200, "body": "buffered"}
