"""`tunnel http` as a user runs it: the console script in a subprocess, and its argument checks."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli.harness import DOMAIN, FakeGateway, LocalApp, make_token
from tunnel_cli.__main__ import main
from tunnel_cli.agent import FIRST_CONNECT_ATTEMPTS

TUNNEL = str(Path(sys.executable).parent / "tunnel")


async def start_tunnel(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        TUNNEL,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_ctrl_c_closes_cleanly_and_exits_0(signum):
    with LocalApp() as app:
        async with FakeGateway() as gateway:
            process = await start_tunnel(
                "http", str(app.port), "--url", gateway.url, "--token", make_token(),
                "--inspect-addr", "127.0.0.1:0",
            )  # fmt: skip
            line = await asyncio.wait_for(process.stdout.readline(), 10)
            assert re.fullmatch(r"Web Interface http://127\.0\.0\.1:\d+\n", line.decode())
            line = await asyncio.wait_for(process.stdout.readline(), 10)
            assert line.decode() == (
                f"Forwarding https://demo.{DOMAIN} -> http://127.0.0.1:{app.port}\n"
            )
            connection = await gateway.next_ready()
            response = await connection.request("GET", "/hello")
            assert response.status == 200
            assert (await process.stdout.readline()).decode().startswith("GET /hello 200 ")
            started = time.monotonic()
            process.send_signal(signum)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 5)
            assert time.monotonic() - started < 3
            await asyncio.wait_for(connection.closed.wait(), 2)
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr, stderr.decode()
    assert connection.ws.close_code == 1000


async def test_a_refused_token_exits_non_zero_without_retrying():
    wrong_key_token = make_token(key="not-the-signing-key")
    async with FakeGateway() as gateway:
        process = await start_tunnel(
            "http", "8080", "--url", gateway.url, "--token", wrong_key_token, "--no-inspect"
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 1
    message = stderr.decode()
    assert "refused the connection (HTTP 403)" in message
    assert "token is invalid, expired or revoked" in message
    assert "another agent" not in message  # a 409 says that, not a 403
    assert "Traceback" not in message
    assert wrong_key_token not in message  # never echo the secret
    assert stdout == b""
    assert len(gateway.attempts) == 1


URL_AND_TOKEN = ["--url", "ws://127.0.0.1:1/dev", "--token", make_token("demo")]


def test_subdomain_must_match_the_token(capsys):
    assert main(["http", "8080", *URL_AND_TOKEN, "--subdomain", "other"]) == 2
    err = capsys.readouterr().err
    assert "--subdomain 'other' does not match the token's subdomain 'demo'" in err
    assert len(err.splitlines()) == 1


def test_matching_subdomain_is_accepted_until_connecting(monkeypatch):
    started = []

    def fake_run(coroutine):
        coroutine.close()  # the agent itself is tested elsewhere
        started.append(True)
        return 0

    monkeypatch.setattr("tunnel_cli.runner.asyncio.run", fake_run)
    assert main(["http", "8080", *URL_AND_TOKEN, "--subdomain", "demo", "--no-inspect"]) == 0
    assert started == [True]


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--token", make_token()], {}, "no WebSocket URL: pass --url"),
        ([], {"TUNNEL_URL": "ws://127.0.0.1:1/dev"}, "no token: set TUNNEL_TOKEN"),
        (["--url", "http://x/dev", "--token", make_token()], {}, "must be a ws:// or wss://"),
        (["--url", "wss://x/dev", "--token", "nonsense"], {}, "unusable: malformed token"),
    ],
)
def test_missing_or_bad_arguments_exit_2_with_one_line(capsys, monkeypatch, args, env, expected):
    monkeypatch.delenv("TUNNEL_URL", raising=False)
    monkeypatch.delenv("TUNNEL_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["http", "8080", *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("url", "shown", "problem"),
    [
        ("http://x", "http://x", "must be a ws:// or wss:// URL"),
        ("wss://", "wss://", "has no host"),
        ("wss://user:pw@host/dev", "wss://…@host/dev", "must not carry a user name or password"),
        ("not a url", "not a url", "must be a ws:// or wss:// URL"),
        ("wss://host:99999/dev", "wss://host:99999/dev", "has a port that is not a number"),
        ("wss://host/dev?x=1#frag", "wss://host/dev", "must not have a #fragment"),
        ("wss://[::1/dev", "wss://[::1/dev", "is not a URL"),
    ],
)
def test_a_bad_url_gives_one_line_without_the_token_and_exits_2(url, shown, problem):
    token = make_token()
    ran = subprocess.run(
        [TUNNEL, "http", "8080", "--url", url, "--token", token],
        capture_output=True,
        text=True,
        timeout=10,
        stdin=subprocess.DEVNULL,
    )
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert ran.stderr.startswith(f"tunnel: --url {shown!r}: {problem}")
    assert len(ran.stderr.splitlines()) == 1, ran.stderr
    assert token not in ran.stdout + ran.stderr and "pw" not in ran.stderr


def test_an_expired_token_exits_1_at_once_with_one_line(capsys, monkeypatch):
    expired = make_token(ttl=10, now=time.time() - 100)
    expires = int(time.time() - 90)
    started = time.monotonic()
    assert main(["http", "8080", "--url", "ws://127.0.0.1:1/dev", "--token", expired]) == 1
    assert time.monotonic() - started < 1
    lines = [
        f"tunnel: the token expired at {datetime.fromtimestamp(t, UTC):%Y-%m-%dT%H:%M:%SZ}; "
        "issue a new one with `tunnel token`\n"
        for t in (expires, expires - 1)
    ]
    captured = capsys.readouterr()
    assert captured.err in lines and captured.out == ""


def test_help_says_the_token_decides_the_subdomain(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["http", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "The token decides the subdomain" in text
    assert "--subdomain is only a check: it must equal the subdomain the token grants" in text


# The first connection finds nothing to connect to: a few quick tries, then one line, exit 1.


class _Answering(BaseHTTPRequestHandler):
    """Answers every request, the WebSocket upgrade included, with the server's ``status``."""

    protocol_version = "HTTP/1.1"  # websockets reads no HTTP/1.0 answer

    def do_GET(self) -> None:  # noqa: N802
        self.server.upgrades += 1  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def answering(status: int) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answering)
    server.status, server.upgrades = status, 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_agent_against(url: str) -> tuple[subprocess.CompletedProcess[str], float]:
    token = make_token()
    started = time.monotonic()
    ran = subprocess.run(
        [TUNNEL, "http", "8080", "--url", url, "--token", token, "--no-inspect"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "TUNNEL_BACKOFF_INITIAL_SECONDS": str(QUICK_BACKOFF)},
    )
    assert token not in ran.stdout + ran.stderr and "token=" not in ran.stderr
    return ran, time.monotonic() - started


QUICK_BACKOFF = 0.2
# The retries wait backoff_delay(0), backoff_delay(1), ...: at least this long with 20 % jitter.
QUICK_RETRIES_SECONDS = sum(
    0.8 * QUICK_BACKOFF * 2**attempt for attempt in range(FIRST_CONNECT_ATTEMPTS - 1)
)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("closed-port", "connection refused; is the local gateway running (make tunnel-local)?"),
        ("no-such-host", "no such host 'no-such-host.invalid'; is the URL right"),
    ],
)
def test_nothing_to_connect_to_on_the_first_connection_exits_1_with_one_line(where, expected):
    url = (
        f"ws://127.0.0.1:{closed_port()}/dev"
        if where == "closed-port"
        else "wss://no-such-host.invalid/dev"
    )
    ran, elapsed = run_agent_against(url)
    assert ran.returncode == 1, ran.stderr
    assert ran.stdout == ""
    assert ran.stderr.startswith(f"tunnel: cannot reach {url}: {expected}"), ran.stderr
    assert len(ran.stderr.splitlines()) == 1, ran.stderr
    assert QUICK_RETRIES_SECONDS <= elapsed < 15, elapsed  # a few tries, briefly


@pytest.mark.parametrize("status", [400, 404])
def test_a_400_or_404_to_the_first_upgrade_exits_1_after_a_few_tries(status):
    with answering(status) as server:
        url = f"ws://127.0.0.1:{server.server_address[1]}/dev"
        ran, elapsed = run_agent_against(url)
    assert ran.returncode == 1, ran.stderr
    assert server.upgrades == FIRST_CONNECT_ATTEMPTS
    assert ran.stdout == ""
    assert ran.stderr.startswith(
        f"tunnel: cannot open a tunnel at {url}: it answered HTTP {status} to the WebSocket "
        "upgrade; is the URL right"
    ), ran.stderr
    assert len(ran.stderr.splitlines()) == 1, ran.stderr
    assert QUICK_RETRIES_SECONDS <= elapsed < 15, elapsed


@pytest.mark.parametrize("seconds", ["5", "59", "600", "900"])
def test_a_heartbeat_the_server_would_close_or_time_out_is_refused(seconds):
    # The response function closes an agent that pings more than once a minute (after a short
    # burst); API Gateway closes one idle for 10 minutes.
    result = subprocess.run(
        [sys.executable, "-m", "tunnel_cli", "http", "8080", "--heartbeat", seconds],
        capture_output=True,
        text=True,
        env={**os.environ, "TUNNEL_URL": "ws://127.0.0.1:9/dev", "TUNNEL_TOKEN": "v1.x.y"},
        timeout=30,
    )
    assert result.returncode == 2
    assert f"'{seconds}' is not from 60 to under 600 seconds" in result.stderr
    assert "Traceback" not in result.stderr
