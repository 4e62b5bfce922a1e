"""What the agent lets through to the local service, and what it tells the public: the true
forwarded Host only, origin-form targets only, and error bodies that name neither the local
address nor an exception (those go to the agent's terminal)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from tunnel_shared import protocol

from tests.cli.harness import (
    DOMAIN,
    FakeGateway,
    eventually,
    header_values,
    make_token,
    running_agent,
)
from tunnel_cli.agent import _describe
from tunnel_cli.forward import LocalRequest, forward_blocking

HOST = f"demo.{DOMAIN}"


def closed_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# 1. X-Forwarded-Host --------------------------------------------------------------------------


async def test_rewrite_replaces_a_spoofed_x_forwarded_host_with_the_public_host(app):
    headers = [("host", HOST), ("x-forwarded-host", "evil.example"), ("accept", "*/*")]
    async with FakeGateway() as gateway, running_agent(gateway, app.port, host_header="rewrite"):
        connection = await gateway.next_ready()
        await connection.request("GET", "/", headers=headers)
    (seen,) = app.requests
    assert header_values(seen.headers, "x-forwarded-host") == [HOST]
    assert header_values(seen.headers, "host") == [f"127.0.0.1:{app.port}"]


async def test_preserve_passes_the_servers_forwarded_headers_as_they_came(app):
    forwarded = [
        ("x-forwarded-host", HOST),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "203.0.113.7"),
    ]
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        await connection.request("GET", "/", headers=[("host", HOST), *forwarded])
    (seen,) = app.requests
    for name, value in forwarded:
        assert header_values(seen.headers, name) == [value]
    assert header_values(seen.headers, "host") == [HOST]


@pytest.mark.parametrize("host_header", ["preserve", "rewrite"])
async def test_no_header_is_read_as_an_address(app, host_header):
    # Host and X-Forwarded-* are values for the local service, never where to connect: the
    # request reaches the configured address whatever they name.
    named = [
        ("host", "169.254.169.254:80"),
        ("x-forwarded-host", "127.0.0.1:22"),
        ("x-forwarded-port", "22"),
        ("x-forwarded-prefix", "//evil.example"),
    ]
    async with (
        FakeGateway() as gateway,
        running_agent(gateway, app.port, host_header=host_header),
    ):
        connection = await gateway.next_ready()
        response = await connection.request("GET", "/", headers=named)
    assert response.status == 200
    (seen,) = app.requests
    assert header_values(seen.headers, "x-forwarded-prefix") == ["//evil.example"]
    expected_host = "169.254.169.254:80" if host_header == "preserve" else f"127.0.0.1:{app.port}"
    assert header_values(seen.headers, "host") == [expected_host]


# 2. Origin-form targets only --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_path",
    [
        "http://169.254.169.254/latest/meta-data",
        "169.254.169.254:80",
        "*",
        "",
        "/a?b",  # a "?" in the path would move the query
    ],
)
async def test_a_target_that_is_not_a_path_is_answered_400_and_never_forwarded(app, raw_path):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as agent:
        connection = await gateway.next_ready()
        response = await connection.request("GET", raw_path)
        await connection.request("GET", "/after")  # the app is up and recording
    assert response.status == 400
    assert header_values(response.headers, "x-tunnel-error") == ["bad-target"]
    assert response.body == b"tunnel: the request target is not a path\n"
    assert [seen.target for seen in app.requests] == ["/after"]
    assert "the request target is not a path" in agent.err.getvalue()


@pytest.fixture
def raw_app() -> Iterator[tuple[int, list[bytes]]]:
    """A local service that records each request line as it came (http.server would fold a
    leading ``//``) and answers 204."""
    listener = socket.create_server(("127.0.0.1", 0))
    lines: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                received = b""
                while b"\r\n\r\n" not in received and (chunk := client.recv(65536)):
                    received += chunk
                lines.append(received.split(b"\r\n", 1)[0])
                client.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], lines
    listener.close()


@pytest.mark.parametrize("raw_path", ["//x", "//169.254.169.254/latest", "/a%2F..%2Fb", "/"])
async def test_origin_form_paths_reach_the_app_verbatim(raw_app, raw_path):
    port, lines = raw_app
    async with FakeGateway() as gateway, running_agent(gateway, port):
        connection = await gateway.next_ready()
        response = await connection.request("GET", raw_path, "q=1")
    assert response.status == 204
    assert lines == [f"GET {raw_path}?q=1 HTTP/1.1".encode()]


# 3. The token is never printed --------------------------------------------------------------------


async def test_a_connection_error_quoting_the_url_never_prints_the_token(app):
    token = make_token()
    async with FakeGateway() as gateway:
        # websockets' InvalidURI quotes the whole URL, token and session secret included.
        base = gateway.url
        async with running_agent(gateway, app.port, token=token, url=f"{base}#x") as agent:
            await eventually(lambda: agent.err.getvalue().count("reconnecting") >= 2)
    err = agent.err.getvalue()
    assert f"cannot connect to {base}: not a usable WebSocket URL: fragment" in err
    assert token not in err and "session=" not in err and "token=" not in err


def test_connection_errors_are_described_without_the_urls_query():
    error = OSError("failed to reach wss://h.example/dev?token=v1.a.b&session=s: refused")
    assert _describe(error) == "failed to reach wss://h.example/dev refused"


# 4. Public error bodies ---------------------------------------------------------------------------


async def test_a_refused_local_connection_is_detailed_only_on_the_terminal(app):
    port = closed_port()
    async with FakeGateway() as gateway, running_agent(gateway, port) as agent:
        connection = await gateway.next_ready()
        response = await connection.request("GET", "/path")
    assert response.status == 502
    assert header_values(response.headers, "x-tunnel-error") == ["local-refused"]
    assert response.body == b"tunnel: the tunnel's local service refused the connection\n"
    assert b"127.0.0.1" not in response.body and str(port).encode() not in response.body
    assert f"tunnel: GET /path: connection refused by 127.0.0.1:{port}\n" in agent.err.getvalue()


async def test_a_silent_local_service_is_detailed_only_on_the_terminal(app):
    async with (
        FakeGateway() as gateway,
        running_agent(gateway, app.port, local_timeout=0.3) as agent,
    ):
        connection = await gateway.next_ready()
        response = await connection.request("GET", "/slow", "ms=2000")
    assert header_values(response.headers, "x-tunnel-error") == ["local-timeout"]
    assert response.body == b"tunnel: the tunnel's local service did not answer in time\n"
    assert b"127.0.0.1" not in response.body and str(app.port).encode() not in response.body
    assert f"GET /slow: 127.0.0.1:{app.port} did not answer within 0.3 s" in agent.err.getvalue()


@pytest.fixture
def hangs_up() -> Iterator[int]:
    """A local service that accepts a connection and closes it without a word."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            client.recv(65536)
            client.close()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


async def test_a_failing_local_service_is_detailed_only_on_the_terminal(hangs_up):
    async with FakeGateway() as gateway, running_agent(gateway, hangs_up) as agent:
        connection = await gateway.next_ready()
        response = await connection.request("GET", "/")
    assert header_values(response.headers, "x-tunnel-error") == ["local-failed"]
    assert response.body == b"tunnel: the tunnel's local service failed to answer\n"
    assert b"Remote" not in response.body and str(hangs_up).encode() not in response.body
    err = agent.err.getvalue()
    assert f"GET /: request to 127.0.0.1:{hangs_up} failed: Remote end closed" in err


def test_a_body_that_cannot_be_fetched_is_detailed_only_on_the_terminal(app):
    store = closed_port()
    request = LocalRequest(
        "POST",
        "/upload",
        "",
        [("host", HOST)],
        [],
        b"",
        body_url=f"http://127.0.0.1:{store}/spill/r1/request?X-Amz-Signature=secret",
        body_bytes=10,
    )
    response = forward_blocking(request, "127.0.0.1", app.port, timeout=5)
    assert response.status == 502
    assert header_values(response.headers, "x-tunnel-error") == ["body-transfer-failed"]
    assert response.body == b"tunnel: the request body could not be fetched\n"
    assert response.error == "cannot fetch the request body: ConnectionRefusedError"


async def test_an_unreadable_request_message_is_detailed_only_on_the_terminal(app):
    message = json.loads(protocol.request_message("bad-1", "GET", "/", "", [], [], b""))
    message["headers"] = "not a list"
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as agent:
        connection = await gateway.next_ready()
        future = asyncio.get_running_loop().create_future()
        connection._pending["bad-1"] = future
        await connection.ws.send(protocol.encode(message))
        response = await asyncio.wait_for(future, 5)
    assert header_values(response.headers, "x-tunnel-error") == ["bad-request-message"]
    assert response.body == b"tunnel: the tunnel could not read the request\n"
    assert "request headers must be" in agent.err.getvalue()
    assert not app.requests


async def test_a_response_too_large_still_names_both_sizes(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        response = await connection.request("GET", "/random", "size=100000")
    assert header_values(response.headers, "x-tunnel-error") == ["response-too-large"]
    assert b"100,000-byte body" in response.body and b"128 KB" in response.body
