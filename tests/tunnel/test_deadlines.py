"""No local request outlives its public request, end to end: the local gateway, the real
functions and the agent as a subprocess, in front of a local service whose event stream never
ends. The forwarding function gives the agent the time it has left; at that deadline the agent
closes the local connection (the service sees it closed) and frees its thread, so waves of such
requests leave nothing behind, even under a low open-files limit."""

from __future__ import annotations

import http.client
import json
import re
import resource
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.tunnel.conftest import TUNNEL, Agent, Tunnel

# The forwarding function's deadline (tunnel_shared.limits) and the shorter one it gives a tunnel
# that has left a request unanswered for 10 s (tunnel_shared.capacity): both honest, both real.
FULL_DEADLINE = 27.0
SILENT_DEADLINE = 3.0
SILENT_AFTER = 10.0
# "Within 2 s": from the public 504 to the local service seeing its connection closed.
CLOSED_WITHIN = 2.0
WAVE = 20  # dev's throttling.tunnel_in_flight


@dataclass
class Stream:
    opened: float  # time.monotonic()
    ticks: int = 0
    closed: float | None = None  # when a write failed: the agent had closed the connection


@dataclass
class EventApp:
    """A local service: ``/events?id=X`` is an endless ``text/event-stream`` (chunked), one
    ``data: tick`` every 100 ms until a write fails, which it notes; anything else is 200."""

    streams: dict[str, Stream] = field(default_factory=dict)
    connections: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with app.changed:
                    app.connections += 1

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                if url.path != "/events":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    return
                stream_id = parse_qs(url.query)["id"][0]
                stream = Stream(time.monotonic())
                with app.changed:
                    app.streams[stream_id] = stream
                    app.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                event = b"data: tick\n\n"
                try:
                    while True:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                        stream.ticks += 1
                        time.sleep(0.1)
                except OSError:
                    with app.changed:
                        stream.closed = time.monotonic()
                        app.changed.notify_all()
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, predicate: Callable[[], object], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, max(0.0, timeout))

    def closed(self, *ids: str) -> bool:
        return all(i in self.streams and self.streams[i].closed is not None for i in ids)


@pytest.fixture(scope="module")
def events() -> Iterator[EventApp]:
    app = EventApp()
    yield app
    app.server.shutdown()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the public side answered


def ask(tunnel: Tunnel, subdomain: str, target: str) -> Answer:
    status, headers, body = tunnel.request(subdomain, "GET", target, timeout=60)
    return Answer(status, {k.lower(): v for k, v in headers}, body, time.monotonic())


def inspected(inspector: str, stream_id: str) -> dict | None:
    """The inspector's entry for ``/events?id=<stream_id>`` (ngrok's list API), if any."""
    port = int(urlsplit(inspector).port or 0)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/api/requests/http?summary=1")
    listed = json.loads(connection.getresponse().read())["requests"]
    connection.close()
    return next((r for r in listed if r["request"]["uri"] == f"/events?id={stream_id}"), None)


now = time.monotonic


def until(predicate: Callable[[], object], timeout: float) -> object:
    """``predicate()``'s first truthy value, polled; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.05)
    return value


def test_an_endless_event_stream_is_closed_at_the_deadline(tunnel: Tunnel, events: EventApp):
    agent = tunnel.agent(tunnel.token("endless"), events.port, "--inspect-addr", "127.0.0.1:0")
    inspector = agent.wait_for(r"^Web Interface (http://127\.0\.0\.1:\d+)$").group(1)
    agent.wait_for(r"^Forwarding ")
    with ThreadPoolExecutor(2) as pool:
        long = pool.submit(ask, tunnel, "endless", "/events?id=long")
        assert events.wait(lambda: "long" in events.streams, 15)
        opened = events.streams["long"].opened

        # In flight in the inspector, its elapsed time growing.
        first = until(lambda: inspected(inspector, "long"), 5)
        assert first["state"] == "in flight" and first["response"] is None
        later = until(
            lambda: (e := inspected(inspector, "long")) and e["duration"] > first["duration"] and e,
            5,
        )
        assert later["state"] == "in flight"

        # Forwarding waits only 3 s for a tunnel that has left a request unanswered for 10 s:
        # that budget travels with the request, and the agent keeps to it.
        until(lambda: time.monotonic() - opened > SILENT_AFTER + 1, SILENT_AFTER + 5)
        short = ask(tunnel, "endless", "/events?id=short")
        assert short.status == 504
        assert events.wait(lambda: events.closed("short"), short.at + CLOSED_WITHIN - now())
        cut_short = events.streams["short"]
        print(
            f"\n3 s budget: local connection closed {cut_short.closed - short.at:+.3f} s after 504"
        )
        assert cut_short.closed - cut_short.opened >= SILENT_DEADLINE - 0.5
        assert "long" in events.streams and not events.closed("long")  # its own deadline

        answer = long.result(timeout=FULL_DEADLINE + 10)
    assert answer.status == 504
    assert events.wait(lambda: events.closed("long"), answer.at + CLOSED_WITHIN - now())
    cut_long = events.streams["long"]
    print(f"27 s budget: local connection closed {cut_long.closed - answer.at:+.3f} s after 504")
    assert cut_long.closed - cut_long.opened >= FULL_DEADLINE - 1
    assert cut_long.ticks > 200  # it really streamed all along

    # One line each, and nothing sent for them (the public side had its 504).
    agent.wait_for(r"^GET /events\?id=short 504 cut at the deadline \(3\.0 s\)$")
    agent.wait_for(r"^GET /events\?id=long 504 cut at the deadline \(2[67]\.\d s\)$")
    cut = until(lambda: (e := inspected(inspector, "long")) and e["state"] == "cut" and e, 5)
    assert cut["response"] is None
    assert re.fullmatch(r"cut at the deadline after 2[67]\.\d s", cut["cut"])
    assert cut["duration"] >= (FULL_DEADLINE - 1) * 1e9
    assert inspected(inspector, "short")["cut"] == "cut at the deadline after 3.0 s"
    assert agent.stop() == 0


def limited_agent(tunnel: Tunnel, token: str, port: int, files: int) -> Agent:
    """``tunnel http PORT`` with at most ``files`` open files, as ``ulimit -n`` would set."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    started = subprocess.Popen(
        [str(TUNNEL), "http", str(port), "--url", tunnel.gateway.websocket_url, "--token", token,
         "--no-inspect"],
        cwd=tunnel.root,
        env={**tunnel.environment, "TUNNEL_BACKOFF_INITIAL_SECONDS": "0.2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=limit,
    )  # fmt: skip
    agent = Agent(started)
    tunnel.agents.append(agent)  # stopped with the others
    return agent


def test_waves_of_endless_streams_leave_nothing_behind_under_a_low_open_files_limit(
    tunnel: Tunnel, events: EventApp
):
    agent = limited_agent(tunnel, tunnel.token("waves"), events.port, files=64)
    agent.wait_for(r"^Forwarding ")
    figures = []
    for wave in range(3):
        ids = [f"wave{wave}-{n}" for n in range(WAVE)]
        with ThreadPoolExecutor(WAVE) as pool:
            answers = list(pool.map(lambda i: ask(tunnel, "waves", f"/events?id={i}"), ids))
        assert [a.status for a in answers] == [504] * WAVE, [a.body for a in answers]
        last = max(a.at for a in answers)
        all_closed = events.wait(lambda ids=ids: events.closed(*ids), last + CLOSED_WITHIN - now())
        assert all_closed, [i for i in ids if not events.closed(i)]
        closed = [events.streams[i].closed - a.at for i, a in zip(ids, answers, strict=True)]
        figures.append(f"wave {wave + 1}: {min(closed):+.3f} to {max(closed):+.3f} s")
    print("\nlocal connections closed after their 504s:", "; ".join(figures))
    status, _, body = tunnel.request("waves", "GET", "/ok")
    assert (status, body) == (200, b"ok")
    assert not [line for line in agent.lines if "Too many open files" in line]
    assert agent.stop() == 0
