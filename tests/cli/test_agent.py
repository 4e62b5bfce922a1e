"""The agent against a fake API Gateway and a local app, in one event loop."""

from __future__ import annotations

import asyncio
import gzip
import os
import random
import socket
import time

import pytest
from tunnel_shared.limits import MAX_FRAME_BYTES

from tests.cli.harness import (
    DOMAIN,
    FakeGateway,
    eventually,
    header_values,
    make_token,
    running_agent,
)
from tunnel_cli.agent import FIRST_CONNECT_ATTEMPTS

HOST = f"demo.{DOMAIN}"


async def test_registers_and_prints_the_public_url(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as agent:
        connection = await gateway.next_ready()
        assert connection.messages[0] == {"action": "ready"}
        await eventually(lambda: agent.lines())
        assert agent.lines() == [f"Forwarding https://demo.{DOMAIN} -> http://127.0.0.1:{app.port}"]


async def test_binary_bodies_and_raw_targets_round_trip_byte_exact(app):
    body = os.urandom(64 * 1024)
    path = "/up%2Fload/caf%C3%A9/a%20b"
    query = "x=1&x=2&y=%26%3D&%E2%9C%93=ok&empty=&x=3&plus=a+b"
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as agent:
        connection = await gateway.next_ready()
        response = await connection.request("POST", path, query, body=body)
        assert response.status == 200
        assert response.body == body
        (seen,) = app.requests
        assert (seen.method, seen.target, seen.body) == ("POST", f"{path}?{query}", body)
        await eventually(lambda: len(agent.lines()) == 2)
        method, logged_path, status, *sizes, elapsed = agent.lines()[1].split(" ")
        assert (method, logged_path, status) == ("POST", f"{path}?{query}", "200")
        assert sizes == ["65.5", "kB", "→", "65.5", "kB"]  # the body each way
        assert elapsed.endswith("ms") and int(elapsed[:-2]) >= 0


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_each_method_reaches_the_app(app, method):
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        response = await connection.request(method, "/m", body=b"payload")
        assert (response.status, response.body) == (200, b"payload")
        assert app.requests[0].method == method


async def test_repeated_headers_and_cookies_reach_the_app(app):
    headers = [
        ("host", HOST),
        ("x-dup", "first"),
        ("accept", "text/html"),
        ("x-dup", "second"),
        ("connection", "keep-alive, x-hop"),
        ("x-hop", "per-hop"),
        ("content-length", "999"),
        ("transfer-encoding", "chunked"),
    ]
    cookies = ["a=1", "b=two words", "c=3"]
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        await connection.request("POST", "/h", headers=headers, cookies=cookies, body=b"xyz")
    (seen,) = app.requests
    names = [name.lower() for name, _ in seen.headers]
    assert header_values(seen.headers, "x-dup") == ["first", "second"]
    assert header_values(seen.headers, "host") == [HOST]  # the public Host, preserved
    assert header_values(seen.headers, "cookie") == ["a=1; b=two words; c=3"]
    assert header_values(seen.headers, "content-length") == ["3"]  # the real length
    for hop in ("connection", "x-hop", "transfer-encoding", "accept-encoding"):
        assert hop not in names
    assert seen.body == b"xyz"


async def test_host_header_rewrite_moves_the_public_host(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port, host_header="rewrite"):
        connection = await gateway.next_ready()
        await connection.request("GET", "/")
    (seen,) = app.requests
    assert header_values(seen.headers, "host") == [f"127.0.0.1:{app.port}"]
    assert header_values(seen.headers, "x-forwarded-host") == [HOST]


async def test_every_response_header_pair_comes_back(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        response = await connection.request("GET", "/cookies")
    assert header_values(response.headers, "set-cookie") == [
        "a=1; Path=/",
        "b=2; HttpOnly",
        "c=3; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
    ]
    assert header_values(response.headers, "x-multi") == ["one", "two"]
    assert not header_values(response.headers, "keep-alive")  # hop-by-hop
    assert not header_values(response.headers, "connection")
    assert response.body == b"cookies"


async def test_204_and_head_have_no_body(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        empty = await connection.request("GET", "/no-content")
        head = await connection.request("HEAD", "/random", "size=5000")
    assert (empty.status, empty.body) == (204, b"")
    assert header_values(empty.headers, "x-empty") == ["yes"]
    assert (head.status, head.body) == (200, b"")
    assert header_values(head.headers, "content-length") == ["5000"]


async def test_bodies_are_not_decoded_or_rechunked(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        zipped = await connection.request(
            "GET", "/gzip", headers=[("host", HOST), ("accept-encoding", "gzip")]
        )
        chunked = await connection.request("GET", "/chunked")
    assert zipped.body == gzip.compress(b"hello " * 100)  # still compressed
    assert gzip.decompress(zipped.body) == b"hello " * 100
    assert header_values(zipped.headers, "content-encoding") == ["gzip"]
    assert header_values(app.requests[0].headers, "accept-encoding") == ["gzip"]
    assert chunked.body == b"first,second,third"
    assert not header_values(chunked.headers, "transfer-encoding")


async def test_requests_are_answered_concurrently_and_out_of_order(app):
    delays = [800, 700, 600, 500, 400, 300, 200, 100]
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        started = time.monotonic()
        responses = await asyncio.gather(
            *(connection.request("GET", "/slow", f"ms={ms}") for ms in delays)
        )
        elapsed = time.monotonic() - started
    assert [r.body for r in responses] == [str(ms).encode() for ms in delays]
    assert elapsed < 2.0, f"{elapsed:.2f} s: requests were handled one at a time"  # 3.6 s serial
    assert connection.answered == [f"req-{i}" for i in range(len(delays), 0, -1)]


async def test_messages_go_in_frames_of_at_most_32_kb(app):
    body = os.urandom(90 * 1024)  # a ~123 KB response message
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        response = await connection.request("POST", "/echo", body=body)
    assert response.body == body
    frames = connection.frame_sizes[-1]
    assert sum(frames) > 120 * 1024
    assert len(frames) >= 4
    assert max(size for message in connection.frame_sizes for size in message) <= MAX_FRAME_BYTES


@pytest.mark.parametrize("size", [100_000, 1_000_000])
async def test_a_response_too_large_for_one_message_becomes_a_502(app, size):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as agent:
        connection = await gateway.next_ready()
        response = await connection.request("GET", "/random", f"size={size}")
        await eventually(lambda: f"GET /random?size={size} 502" in agent.out.getvalue())
    assert response.status == 502
    assert header_values(response.headers, "x-tunnel-error") == ["response-too-large"]
    assert b"128 KB" in response.body and len(response.body) < 300
    assert "larger than the 128 KB" in agent.err.getvalue()


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        ("q=1&token=secret", "q=1&token=…"),
        ("q=1", "q=1"),
        ("access_token=a&X-Amz-Signature=b&api_key=c&password=d&code=e&page=2",
         "access_token=…&X-Amz-Signature=…&api_key=…&password=…&code=…&page=2"),
        ("Token=x&flag&token=&a=%20b", "Token=…&flag&token=&a=%20b"),
    ],
)  # fmt: skip
async def test_the_request_line_shows_the_query_with_credentials_hidden(app, query, logged):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as agent:
        connection = await gateway.next_ready()
        response = await connection.request("GET", "/x", query)
        assert response.status == 200
        await eventually(lambda: len(agent.lines()) == 2)
    assert agent.lines()[1].startswith(f"GET /x?{logged} 200 0 B ")
    assert app.requests[0].target == f"/x?{query}"  # the local service gets it all, as sent


async def test_local_service_down_gives_502_and_the_agent_keeps_going(app):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    async with FakeGateway() as gateway, running_agent(gateway, closed_port) as agent:
        connection = await gateway.next_ready()
        first = await connection.request("GET", "/")
        second = await connection.request("POST", "/again", body=b"x")
        await eventually(lambda: "POST /again 502" in agent.out.getvalue())
    for response in (first, second):
        assert response.status == 502
        assert header_values(response.headers, "x-tunnel-error") == ["local-refused"]
        assert response.body == b"tunnel: the tunnel's local service refused the connection\n"
    assert f"GET /: connection refused by 127.0.0.1:{closed_port}" in agent.err.getvalue()
    assert "Traceback" not in agent.err.getvalue()


async def test_a_silent_local_service_gives_502_after_the_timeout(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port, local_timeout=0.3):
        connection = await gateway.next_ready()
        started = time.monotonic()
        response = await connection.request("GET", "/slow", "ms=2000")
    assert time.monotonic() - started < 1.5
    assert response.status == 502
    assert header_values(response.headers, "x-tunnel-error") == ["local-timeout"]


async def test_reconnects_with_the_same_token_after_a_drop(app):
    token = make_token()
    async with FakeGateway() as gateway, running_agent(gateway, app.port, token=token) as agent:
        first = await gateway.next_ready()
        dropped_at = time.monotonic()
        first.ws.transport.abort()  # no close frame: a network failure
        second = await gateway.next_ready()
        assert time.monotonic() - dropped_at >= 0.1  # waited the first backoff delay
        response = await second.request("GET", "/after", body=b"")
        assert response.status == 200
        await eventually(lambda: len(agent.lines()) == 3)
    assert [attempt.token for attempt in gateway.attempts] == [token, token]
    forwarding = [line for line in agent.lines() if line.startswith("Forwarding")]
    assert forwarding == [f"Forwarding https://demo.{DOMAIN} -> http://127.0.0.1:{app.port}"] * 2
    assert (
        "connection lost (code 1006: no close frame); reconnecting in 0.1 s" in agent.err.getvalue()
    )


async def test_once_up_it_reconnects_through_refusals_for_as_long_as_it_takes(app):
    # Giving up after a few refused tries is for the first connection only: once a tunnel has
    # been up, the gateway going away (a restart, a laptop asleep) is waited out.
    async with FakeGateway() as first:
        port, url = first.server.sockets[0].getsockname()[1], first.url
        async with running_agent(first, app.port, backoff_max=0.2) as agent:
            await first.next_ready()
            first.server.close()  # nothing listens there any more: connection refused
            await first.server.wait_closed()

            def refused() -> int:
                return agent.err.getvalue().count(f"cannot connect to {url}")

            await eventually(lambda: refused() > FIRST_CONNECT_ATTEMPTS + 1, timeout=10)
            assert not agent.task.done()
            async with FakeGateway(port=port) as second:
                back = await second.next_ready()
                response = await back.request("GET", "/after")
                assert response.status == 200
    forwarding = [line for line in agent.lines() if line.startswith("Forwarding")]
    assert len(forwarding) == 2


async def test_reconnect_delays_double_up_to_the_maximum(app):
    def refuse(attempt):
        return 503 if attempt <= 4 else None

    async with (
        FakeGateway(refuse) as gateway,
        running_agent(gateway, app.port, backoff_initial=0.1, backoff_max=0.25) as agent,
    ):
        await gateway.next_ready()
    times = [attempt.at for attempt in gateway.attempts]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    for gap, expected in zip(gaps, [0.1, 0.2, 0.25, 0.25], strict=True):
        assert expected <= gap < expected + 0.3, gaps
    assert agent.err.getvalue().count("the server refused the connection (HTTP 503)") == 4


def test_backoff_delays_have_bounded_jitter():
    from tunnel_cli.agent import backoff_delay

    random.seed(7)
    delays = [backoff_delay(attempt, 1, 60, 0.2) for attempt in range(10) for _ in range(50)]
    for attempt in range(10):
        nominal = min(60, 2**attempt)
        sample = delays[attempt * 50 : (attempt + 1) * 50]
        assert all(0.8 * nominal <= delay <= 1.2 * nominal for delay in sample)
        assert len(set(sample)) > 1  # jittered, not in step


async def test_heartbeat_pings_at_the_interval(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port, heartbeat_seconds=0.1):
        connection = await gateway.next_ready()
        await asyncio.sleep(0.65)
        pings = connection.pings
    assert 3 <= pings <= 7
    assert {"action": "ping"} in connection.messages


async def test_connection_is_replaced_before_the_cap_new_one_first(app):
    async with (
        FakeGateway() as gateway,
        running_agent(gateway, app.port, rotate_seconds=0.4) as agent,
    ):
        first = await gateway.next_ready()
        second = await gateway.next_ready()
        assert not first.closed.is_set()  # make before break
        await asyncio.wait_for(first.closed.wait(), 3)
        assert first.ws.close_code == 1000
        assert not second.closed.is_set()
        response = await second.request("GET", "/still-there")
        assert response.status == 200
    assert "before API Gateway's 2-hour cap" in agent.err.getvalue()


async def test_rejected_messages_are_logged(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as agent:
        connection = await gateway.next_ready()
        await connection.ws.send('{"type":"rejected","reason":"unknown request id"}')
        await connection.ws.send("not json")
        await eventually(lambda: "not JSON" in agent.err.getvalue())
    assert "the server rejected a message: unknown request id" in agent.err.getvalue()


async def test_stop_closes_with_1000(app):
    async with FakeGateway() as gateway:
        async with running_agent(gateway, app.port):
            connection = await gateway.next_ready()
        await asyncio.wait_for(connection.closed.wait(), 2)
    assert connection.ws.close_code == 1000


@pytest.mark.parametrize(
    ("errors", "refused"),
    [
        ("[Errno 111] Connect call failed ('::1', 4567, 0, 0), "
         "[Errno 111] Connect call failed ('127.0.0.1', 4567)", True),
        ("[Errno 99] Cannot assign requested address, "
         "[Errno 111] Connect call failed ('127.0.0.1', 4567)", True),
        ("[Errno 110] Connect call failed ('::1', 4567, 0, 0), "
         "[Errno 111] Connect call failed ('127.0.0.1', 4567)", False),
    ],
)  # fmt: skip
def test_localhost_refused_on_each_of_its_addresses_is_refused(errors, refused):
    # asyncio reports one OSError, without an errno, for a host with several addresses.
    from tunnel_cli.agent import _nothing_there

    line = _nothing_there(OSError(f"Multiple exceptions: {errors}"), "ws://localhost:4567/dev")
    expected = "cannot reach ws://localhost:4567/dev: connection refused; is the local gateway"
    assert (line or "").startswith(expected) == refused, line
