"""Test doubles for the agent: a fake API Gateway (a websockets server on loopback) and a local
HTTP app (stdlib http.server in a thread) for the agent to forward to."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import io
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tunnel_shared import protocol, tokens
from tunnel_shared.limits import MAX_FRAME_BYTES
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tunnel_cli.agent import Agent, AgentSettings
from tunnel_cli.inspector.server import TunnelView
from tunnel_cli.inspector.traffic import Traffic

KEY = "test-signing-key-0123456789abcdefghijklmnopqrstuvwxyz"
DOMAIN = "tunnel.test"


def make_token(
    subdomain: str = "demo", key: str = KEY, ttl: int = 3600, now: float | None = None
) -> str:
    return tokens.issue(key, "tester", subdomain, ttl, now=now)


async def eventually(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


# The local app -------------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _AppServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.app.requests.append(
            Recorded(self.command, self.path, list(self.headers.items()), body)
        )
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        route = getattr(self, "route_" + url.path.strip("/").replace("-", "_"), None)
        if route is None or not url.path.strip("/"):
            self._reply(200, [("content-type", "application/octet-stream")], body)
        else:
            route(query)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def route_cookies(self, query: dict[str, str]) -> None:
        self._reply(
            200,
            [
                ("Set-Cookie", "a=1; Path=/"),
                ("Set-Cookie", "b=2; HttpOnly"),
                ("Set-Cookie", "c=3; Expires=Wed, 21 Oct 2037 07:28:00 GMT"),
                ("X-Multi", "one"),
                ("X-Multi", "two"),
                ("Keep-Alive", "timeout=5"),
                ("Connection", "keep-alive"),
            ],
            b"cookies",
        )

    def route_toss(self, query: dict[str, str]) -> None:
        # Cookies for a parent domain, as a hostile tenant would set them.
        self._reply(200, [("Set-Cookie", "a=1; Domain=example.com; Path=/")], b"tossed")

    def route_no_content(self, query: dict[str, str]) -> None:
        self._reply(204, [("x-empty", "yes")], b"")

    def route_random(self, query: dict[str, str]) -> None:
        data = random.Random(int(query.get("seed", "1"))).randbytes(int(query["size"]))
        self._reply(200, [("content-type", "application/octet-stream")], data)

    def route_slow(self, query: dict[str, str]) -> None:
        time.sleep(int(query["ms"]) / 1000)
        self._reply(200, [("content-type", "text/plain")], query["ms"].encode())

    def route_gzip(self, query: dict[str, str]) -> None:
        self._reply(200, [("content-encoding", "gzip")], gzip.compress(b"hello " * 100))

    def route_events(self, query: dict[str, str]) -> None:
        """An endless ``text/event-stream``, chunked (``?raw=1``: delimited by the connection's
        end), a ``data: tick`` every 20 ms until a write fails: ``app.ended[id]`` notes when."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        raw = query.get("raw") == "1"
        if not raw:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        event = b"data: tick\n\n"
        try:
            while True:
                self.wfile.write(event if raw else b"%x\r\n%s\r\n" % (len(event), event))
                time.sleep(0.02)
        except OSError:
            self.server.app.end(query.get("id", ""))
        self.close_connection = True

    def route_hold(self, query: dict[str, str]) -> None:
        """Answer 200 once the test sets ``app.release`` (at most 10 s)."""
        self.server.app.release.wait(10)
        self._reply(200, [("content-type", "text/plain")], b"held")

    def route_drip(self, query: dict[str, str]) -> None:
        """A ``text/event-stream``: one event, then (once the test sets ``app.release``) a
        second, and the end."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in (b"data: first\n\n", b"data: second\n\n"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            self.server.app.release.wait(10)
        self.wfile.write(b"0\r\n\r\n")

    def route_large(self, query: dict[str, str]) -> None:
        """``?size=`` bytes of ``LARGE_BLOCK`` repeated, with a Content-Length, written a block
        at a time (the app never holds the body)."""
        size = int(query["size"])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        for start in range(0, size, len(LARGE_BLOCK)):
            self.wfile.write(LARGE_BLOCK[: size - start])

    def route_short(self, query: dict[str, str]) -> None:
        """Says 1000 bytes, sends 10 and closes: a body that breaks off."""
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.close_connection = True

    def route_chunked(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in (b"first,", b"second,", b"third"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


LARGE_BLOCK = bytes(range(256)) * 256  # 64 KiB


def large_body_digest(size: int) -> str:
    """The SHA-256 of ``route_large``'s body of ``size`` bytes, computed a block at a time."""
    digest = hashlib.sha256()
    for start in range(0, size, len(LARGE_BLOCK)):
        digest.update(LARGE_BLOCK[: size - start])
    return digest.hexdigest()


class _AppServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    app: LocalApp

    def get_request(self) -> tuple:
        accepted = super().get_request()
        self.app.connections += 1
        return accepted

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the agent hanging up on a slow handler (local timeout) is expected


class LocalApp:
    """The service behind the tunnel, recording every request it gets."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.connections = 0  # accepted so far
        self.ended: dict[str, float] = {}  # event streams whose writes failed: when (monotonic)
        self.release = threading.Event()  # lets /hold answer
        self.server = _AppServer(("127.0.0.1", 0), _Handler)
        self.server.app = self
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LocalApp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def end(self, stream_id: str) -> None:
        self.ended[stream_id] = time.monotonic()


# The fake API Gateway ------------------------------------------------------------------------


@dataclass
class Attempt:
    at: float
    token: str | None
    session: str | None  # the agent's per-run session secret


@dataclass
class Streamed:
    """A streamed answer as the gateway received it: its head, its chunks hashed as they come
    (only the first ``KEPT`` bytes kept), and its end."""

    KEPT = 1024 * 1024

    head: protocol.Response | None = None
    chunks: int = 0
    size: int = 0
    kept: bytearray = field(default_factory=bytearray)
    digest: Any = field(default_factory=hashlib.sha256)
    end: protocol.End | None = None
    out_of_order: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    # Reads a stored chunk's part (from S3, as forwarding does); None: no part is expected.
    fetch: Callable[[protocol.Chunk], bytes] | None = None
    stored: int = 0  # chunks whose part was stored

    def add(self, chunk: protocol.Chunk) -> None:
        if chunk.seq != self.chunks:
            self.out_of_order += 1
        data = chunk.data
        if chunk.stored_bytes is not None:
            assert self.fetch is not None, "a stored chunk where no partsUpload was given"
            data = self.fetch(chunk)
            assert len(data) == chunk.stored_bytes
            self.stored += 1
        self.chunks += 1
        self.size += len(data)
        self.digest.update(data)
        self.kept += data[: max(0, self.KEPT - len(self.kept))]

    async def until(self, done: Callable[[Streamed], object], timeout: float = 10.0) -> None:
        """Wait until ``done(self)``."""

        async def check() -> None:
            while not done(self):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(check(), timeout)


@dataclass
class GatewayConnection:
    """One agent connection, seen from API Gateway's side."""

    ws: ServerConnection
    subdomain: str
    token: str
    messages: list[dict] = field(default_factory=list)
    frame_sizes: list[list[int]] = field(default_factory=list)  # per message, per frame
    answered: list[str] = field(default_factory=list)  # requestIds, in arrival order
    pings: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    streams: dict[str, Streamed] = field(default_factory=dict)  # by requestId
    _pending: dict[str, asyncio.Future[protocol.Response]] = field(default_factory=dict)
    _posted: dict[str, asyncio.Future[protocol.Response]] = field(default_factory=dict)
    _ids: int = 0

    async def request(
        self,
        method: str = "GET",
        path: str = "/",
        query: str = "",
        headers: list[tuple[str, str]] | None = None,
        cookies: list[str] | None = None,
        body: bytes = b"",
        timeout: float = 10.0,
        fields: dict[str, object] | None = None,
    ) -> protocol.Response:
        """Post a request to the agent, as the forwarding function does; await its answer."""
        request_id = await self.post(method, path, query, headers, cookies, body, fields)
        return await self.answer(request_id, timeout)

    async def post(
        self,
        method: str = "GET",
        path: str = "/",
        query: str = "",
        headers: list[tuple[str, str]] | None = None,
        cookies: list[str] | None = None,
        body: bytes = b"",
        fields: dict[str, object] | None = None,
    ) -> str:
        """Post a request to the agent (with ``fields`` added to the message, as a newer or
        older server would send them); its requestId, for ``answer``."""
        self._ids += 1
        request_id = f"req-{self._ids}"
        future: asyncio.Future[protocol.Response] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = self._posted[request_id] = future
        if headers is None:
            headers = [("host", f"{self.subdomain}.{DOMAIN}")]
        message = protocol.request_message(
            request_id, method, path, query, headers, cookies or [], body
        )
        if fields:
            message = protocol.encode({**json.loads(message), **fields})
        await self.ws.send(message)
        return request_id

    async def answer(self, request_id: str, timeout: float = 10.0) -> protocol.Response:
        """The agent's answer to a request ``post`` sent."""
        return await asyncio.wait_for(asyncio.shield(self._posted[request_id]), timeout)

    async def post_stream(self, path: str = "/", query: str = "", **fields: object) -> str:
        """Post a request asking for a streamed answer, as the streaming edge does; its
        requestId (``streams[id]`` fills as the answer comes)."""
        request_id = await self.post("GET", path, query, fields={"stream": True, **fields})
        self.streams[request_id] = Streamed()
        return request_id

    async def cancel(self, request_id: str) -> None:
        """Say the caller of ``request_id`` went away."""
        await self.ws.send(protocol.cancel_message(request_id))

    async def send_closed(self, reason: str) -> None:
        """End the tunnel, as the server does for a revoked or expired token."""
        await self.ws.send(protocol.encode({"type": "closed", "reason": reason}))
        await self.ws.close(1000, "tunnel closed")

    async def send_replaced(self) -> None:
        """Say another connection of this agent's session holds the subdomain now."""
        await self.ws.send(protocol.encode({"type": "replaced"}))

    async def serve(self, gateway: FakeGateway) -> None:
        try:
            while True:
                sizes, parts = [], []
                async for fragment in self.ws.recv_streaming(decode=False):
                    sizes.append(len(fragment))
                    parts.append(fragment)
                self.frame_sizes.append(sizes)
                if max(sizes) > MAX_FRAME_BYTES:  # what API Gateway does
                    await self.ws.close(1009, "frame too large")
                    return
                await self._on_message(b"".join(parts), gateway)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def _on_message(self, raw: bytes, gateway: FakeGateway) -> None:
        try:
            message = protocol.parse_agent_message(raw)  # also enforces the 128 KB limit
        except protocol.ProtocolError as exc:
            await self.ws.send(protocol.encode({"type": "rejected", "reason": str(exc)}))
            return
        if message["action"] in ("chunk", "end"):  # kept by ``streams``, not in ``messages``
            self._on_stream_part(message)
            return
        self.messages.append(message)
        if message["action"] == "ready":
            if not gateway.register(gateway.connections.index(self) + 1):
                return  # registration held back: the agent waits for ``registered``
            url = gateway.public_url.replace("{subdomain}", self.subdomain)
            await self.ws.send(
                protocol.encode({"type": "registered", "subdomain": self.subdomain, "url": url})
            )
            self.ready.set()
            gateway.ready.put_nowait(self)
        elif message["action"] == "ping":
            self.pings += 1
        else:
            response = protocol.parse_response(message)
            self.answered.append(response.request_id)
            stream = self.streams.get(response.request_id)
            if stream is not None:
                stream.head = response
                stream.changed.set()
            future = self._pending.pop(response.request_id)
            future.set_result(response)

    def _on_stream_part(self, message: dict) -> None:
        if message["action"] == "chunk":
            chunk = protocol.parse_chunk(message)
            stream = self.streams[chunk.request_id]
            stream.add(chunk)
        else:
            end = protocol.parse_end(message)
            stream = self.streams[end.request_id]
            stream.end = end
        stream.changed.set()


class FakeGateway:
    """API Gateway's role: authorize on upgrade (403 on a bad token), ready → registered,
    request → response, frames ≤ 32 KB and messages ≤ 128 KB enforced.

    ``refuse(attempt)`` may answer an upgrade attempt (1-based) with a status instead (409: the
    subdomain is held by another agent); ``register(connection)`` may hold back the
    ``registered`` answer on a connection (1-based). ``port``: listen there (a gateway back
    where a stopped one was), not on a free one. ``public_url``: the tunnels' public URL format
    (by Host, or by path on one host)."""

    def __init__(
        self,
        refuse: Callable[[int], int | None] | None = None,
        register: Callable[[int], bool] | None = None,
        port: int = 0,
        public_url: str = f"https://{{subdomain}}.{DOMAIN}",
    ) -> None:
        self.port = port
        self.public_url = public_url  # PUBLIC_URL_FORMAT: what ``registered`` says
        self.refuse = refuse or (lambda attempt: None)
        self.register = register or (lambda connection: True)
        self.attempts: list[Attempt] = []
        self.connections: list[GatewayConnection] = []
        self.ready: asyncio.Queue[GatewayConnection] = asyncio.Queue()
        self.server: Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/dev"

    async def __aenter__(self) -> FakeGateway:
        self.server = await serve(
            self._handler,
            "127.0.0.1",
            self.port,
            process_request=self._authorize,
            compression=None,
            max_size=2**20,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def next_ready(self, timeout: float = 5.0) -> GatewayConnection:
        return await asyncio.wait_for(self.ready.get(), timeout)

    def _authorize(self, connection: ServerConnection, request: Request) -> Response | None:
        token = _token_of(request.path)
        session = _query_value(request.path, "session")
        self.attempts.append(Attempt(time.monotonic(), token, session))
        status = self.refuse(len(self.attempts))
        if status is not None:
            return connection.respond(status, "refused by the test\n")
        try:
            tokens.verify(KEY, token)
        except tokens.TokenError as exc:
            return connection.respond(403, f"{exc}\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        token = _token_of(ws.request.path)
        claims = tokens.verify(KEY, token)
        connection = GatewayConnection(ws, claims.subdomain, token)
        self.connections.append(connection)
        await connection.serve(self)


def _token_of(path: str) -> str | None:
    return _query_value(path, "token")


def _query_value(path: str, name: str) -> str | None:
    values = parse_qs(urlsplit(path).query).get(name)
    return values[0] if values else None


# The agent, in-process ------------------------------------------------------------------------


@dataclass
class RunningAgent:
    agent: Agent
    task: asyncio.Task[int]
    out: io.StringIO
    err: io.StringIO

    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()


@contextlib.asynccontextmanager
async def running_agent(
    gateway: FakeGateway,
    port: int,
    token: str | None = None,
    exit_code: int = 0,
    traffic: Traffic | None = None,
    view: TunnelView | None = None,
    **overrides: object,
) -> AsyncIterator[RunningAgent]:
    """The agent serving in this event loop (capturing into ``traffic`` for an inspector, if
    given); stopped (and checked to exit ``exit_code``) on exit."""
    settings = {
        "url": gateway.url,
        "token": token or make_token(),
        "port": port,
        "backoff_initial": 0.1,
        "backoff_jitter": 0.0,
        **overrides,
    }
    out, err = io.StringIO(), io.StringIO()
    agent = Agent(AgentSettings(**settings), out, err, traffic, view)  # type: ignore[arg-type]
    running = RunningAgent(agent, asyncio.create_task(agent.run()), out, err)
    try:
        yield running
    finally:
        agent.stop()
        code = await asyncio.wait_for(running.task, 5)
        assert code == exit_code, running.err.getvalue()


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]
