"""The agent streams a response when the request asks (``stream``): the head as soon as the
local service's headers arrive, each piece of the body as soon as it is read (a server-sent
event goes out alone, at once), then the end; memory stays bounded for a 50 MB body; a
``cancel`` closes the local connection at once; a body that breaks off ends in an error; the
inspector records the stream. Without ``stream``, answers stay whole (the other tests here)."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
import uuid
from unittest import mock

import boto3
from botocore.config import Config
from tunnel_shared import bodies
from tunnel_shared.bodies import BodyStore
from tunnel_shared.limits import STREAM_PART_BYTES

from tests.cli.harness import FakeGateway, LocalApp, Streamed, large_body_digest, running_agent
from tests.emulator.conftest import emulator_endpoint  # noqa: F401
from tunnel_cli.inspector.traffic import CUT, Traffic

BIG = 50 * 1024 * 1024
# Far below one copy of the body: what streaming holds is a few messages, not the body.
MOST_ALLOCATED = 8 * 1024 * 1024


async def test_each_event_goes_out_as_soon_as_it_is_written(app: LocalApp):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as running:
        connection = await gateway.next_ready()
        request_id = await connection.post_stream("/drip")
        stream = connection.streams[request_id]
        # The local service holds its second event until released: the first must be here.
        await stream.until(lambda s: s.chunks >= 1)
        assert stream.head is not None and stream.head.streamed
        assert (stream.head.status, stream.head.body) == (200, b"")
        assert ("Content-Type", "text/event-stream") in stream.head.headers
        assert bytes(stream.kept) == b"data: first\n\n"
        assert stream.end is None
        app.release.set()
        await stream.until(lambda s: s.end is not None)
        assert bytes(stream.kept) == b"data: first\n\ndata: second\n\n"
        assert stream.end.ok and stream.end.chunks == stream.chunks == 2
        assert not any(name.lower() == "transfer-encoding" for name, _ in stream.head.headers)
        assert "GET /drip 200 27 B" in running.out.getvalue()


async def test_a_50_mb_response_streams_through_bounded_memory(app: LocalApp, monkeypatch):
    # Memory, not pace: the edge's 2 MB/s (tests/cli/test_stream_pace.py) would take 22 s here.
    monkeypatch.setattr("tunnel_cli.agent.pace_seconds", lambda sent, elapsed: 0.0)
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        tracemalloc.start()
        try:
            request_id = await connection.post_stream("/large", f"size={BIG}")
            stream = connection.streams[request_id]
            await stream.until(lambda s: s.end is not None, timeout=15)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert stream.end.ok and stream.size == BIG
    assert stream.digest.hexdigest() == large_body_digest(BIG)
    assert stream.out_of_order == 0 and stream.end.chunks == stream.chunks
    assert peak < MOST_ALLOCATED, f"{peak:,} bytes allocated at the peak"


def test_a_fast_body_crosses_as_parts_through_s3_in_bounded_memory(
    app: LocalApp,
    emulator_endpoint: str,  # noqa: F811 - the fixture imported above
    monkeypatch,
):
    """With a partsUpload (tunnel_shared.bodies), what the local service produces faster than
    messages go is gathered into parts of up to STREAM_PART_BYTES, each POSTed to S3 and named
    by one chunk: far fewer messages than inline chunks, the bytes the same, memory bounded."""
    monkeypatch.setattr("tunnel_cli.agent.pace_seconds", lambda sent, elapsed: 0.0)
    size = 20 * 1024 * 1024
    s3 = boto3.client(
        "s3",
        endpoint_url=emulator_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token=None,
        config=Config(signature_version="s3v4"),  # as forwarding's (tunnel_shared.resources)
    )
    bucket = f"parts-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    store = BodyStore(bucket, "spill/")

    async def run() -> tuple[Streamed, int]:
        async with FakeGateway() as gateway, running_agent(gateway, app.port):
            connection = await gateway.next_ready()
            tracemalloc.start()
            try:
                with mock.patch.object(bodies, "s3_client", lambda: s3):
                    upload = store.parts_upload("req-1")
                fields = {"partsUpload": {"url": upload.url, "fields": upload.fields}}
                request_id = await connection.post_stream("/large", f"size={size}", **fields)
                assert request_id == "req-1"
                stream = connection.streams[request_id]
                stream.fetch = lambda chunk: s3.get_object(
                    Bucket=bucket, Key=upload.key(chunk.seq)
                )["Body"].read()
                await stream.until(lambda s: s.end is not None, timeout=30)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            return stream, peak

    stream, peak = asyncio.run(asyncio.wait_for(run(), 60))
    assert stream.end is not None and stream.end.ok and stream.size == size
    assert stream.digest.hexdigest() == large_body_digest(size)
    assert stream.out_of_order == 0 and stream.end.chunks == stream.chunks
    # Nearly all of it in parts: a few dozen messages where inline chunks would be ~220.
    assert stream.stored >= size // STREAM_PART_BYTES - 2, (stream.stored, stream.chunks)
    assert stream.chunks <= 2 * size // STREAM_PART_BYTES, stream.chunks
    assert peak < MOST_ALLOCATED, f"{peak:,} bytes allocated at the peak"


async def test_a_cancel_closes_the_local_connection_at_once(app: LocalApp):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as running:
        connection = await gateway.next_ready()
        request_id = await connection.post_stream("/events", "id=left")
        stream = connection.streams[request_id]
        await stream.until(lambda s: s.chunks >= 2)
        cancelled = time.monotonic()
        await connection.cancel(request_id)
        loop = asyncio.get_running_loop()
        # The local service notices at its next write (every 20 ms); 2 s is the bound only.
        ended = await loop.run_in_executor(None, _wait_for_end, app, "left", 2.0)
        assert ended is not None and ended - cancelled < 2.0
        # Nothing more is sent for it: no end, and the agent says why.
        await asyncio.sleep(0)
        assert stream.end is None
        line = "GET /events?id=left cancelled: the caller went away"
        deadline = time.monotonic() + 2
        while line not in running.out.getvalue() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert line in running.out.getvalue()
        # The agent goes on answering.
        assert (await connection.request("GET", "/next")).status == 200


def _wait_for_end(app: LocalApp, stream_id: str, seconds: float) -> float | None:
    deadline = time.monotonic() + seconds
    while stream_id not in app.ended and time.monotonic() < deadline:
        time.sleep(0.005)
    return app.ended.get(stream_id)


async def test_a_cancel_for_a_request_not_in_flight_is_ignored(app: LocalApp):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as running:
        connection = await gateway.next_ready()
        await connection.cancel("nobody")
        assert (await connection.request("GET", "/after")).status == 200
        assert "ignored" not in running.err.getvalue()


async def test_a_body_that_breaks_off_ends_in_an_error_not_success(app: LocalApp):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as running:
        connection = await gateway.next_ready()
        request_id = await connection.post_stream("/short")
        stream = connection.streams[request_id]
        await stream.until(lambda s: s.end is not None)
        assert stream.head is not None and stream.head.status == 200
        assert bytes(stream.kept) == b"0123456789"
        assert not stream.end.ok
        assert stream.end.error == "the local service's response broke off"
        assert "broken off" in running.out.getvalue()


async def test_the_deadline_ends_a_stream_with_an_error(app: LocalApp):
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        request_id = await connection.post_stream("/events", "id=long", deadlineMs=400)
        stream = connection.streams[request_id]
        await stream.until(lambda s: s.end is not None)
        assert stream.chunks >= 1 and not stream.end.ok
        assert stream.end.error == "cut at the deadline after 0.4 s"
        await asyncio.get_running_loop().run_in_executor(None, _wait_for_end, app, "long", 2.0)
        assert "long" in app.ended


async def test_no_local_service_is_one_whole_502_even_when_streaming():
    async with FakeGateway() as gateway, running_agent(gateway, _free_port()):
        connection = await gateway.next_ready()
        request_id = await connection.post_stream("/x")
        answer = await connection.answer(request_id)
        assert (answer.status, answer.streamed) == (502, False)
        assert ("x-tunnel-error", "local-refused") in answer.headers
        assert connection.streams[request_id].end is None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_the_inspector_records_a_streamed_response(app: LocalApp):
    traffic = Traffic()
    async with FakeGateway() as gateway, running_agent(gateway, app.port, traffic=traffic):
        connection = await gateway.next_ready()
        app.release.set()
        request_id = await connection.post_stream("/drip")
        await connection.streams[request_id].until(lambda s: s.end is not None)
        broken = await connection.post_stream("/short")
        await connection.streams[broken].until(lambda s: s.end is not None)
        deadline = time.monotonic() + 2
        while len(traffic.newest()) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    short, drip = traffic.newest()
    assert drip.exchange.status == 200 and drip.exchange.target == "/drip"
    assert drip.exchange.response_body == b"data: first\n\ndata: second\n\n"
    assert drip.exchange.response_size == 27 and not drip.response_truncated
    assert ("Content-Type", "text/event-stream") in drip.exchange.response_headers
    assert short.exchange.state == CUT and "broke off" in (short.exchange.cut or "")
    assert short.exchange.response_body == b"0123456789"
