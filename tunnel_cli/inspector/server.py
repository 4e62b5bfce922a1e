"""The inspector's web server: the page at ``/`` (and ``/inspect/http``), its static files, and
ngrok's agent API on one loopback port, served by the standard library's
``ThreadingHTTPServer`` in a daemon thread (the agent gains no dependency).

| method | path | answer |
| --- | --- | --- |
| GET | ``/api/tunnels`` | ``{"tunnels": [...], "uri": "/api/tunnels"}`` |
| GET | ``/api/requests/http`` | newest first, those in flight included (``state``: shape.py); ``limit``, ``tunnel_name``, ``path``, ``method``, ``status`` (``404``/``4xx``), ``summary=1`` (no headers or bodies) |
| GET | ``/api/requests/http/<id>`` | one captured request (404 if unknown) |
| POST | ``/api/requests/http`` | ``{"id", "tunnel_name"?, "request"?}``: replay (204, ``Location`` of the replay) |
| DELETE | ``/api/requests/http`` | clear (204) |
| GET | ``/api/events`` | Server-Sent Events: ``traffic`` on every change of the ring |

Every request passes ``guard.refusal`` first. Errors are JSON,
``{"status_code", "msg", "error_code"}``, never a traceback.
"""  # noqa: E501

from __future__ import annotations

import errno
import json
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tunnel_cli.inspector import guard, replay
from tunnel_cli.inspector.shape import REQUESTS_URI, captured_json
from tunnel_cli.inspector.traffic import Traffic

# Ports tried after the one asked for, when it is taken and next_free is set.
NEXT_FREE_PORTS = 10
# A live-update stream sends a comment this often, so proxies and browsers keep it open.
KEEPALIVE_SECONDS = 15.0
# The largest JSON body the API reads (an edited replay carries a body in base64).
MAX_API_BODY_BYTES = 16 * 1024 * 1024
MAX_LIMIT = 10_000
STATIC_FILES = {
    "index.html": "text/html; charset=utf-8",
    "inspector.js": "text/javascript; charset=utf-8",
    "inspector.css": "text/css; charset=utf-8",
    "curl.js": "text/javascript; charset=utf-8",
}
# The page loads only its own files; images of bodies are data: URLs.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_REQUEST_PATH = re.compile(r"^/api/requests/http/([A-Za-z0-9_-]{1,64})$")


class InspectorError(Exception):
    """The inspector cannot run (one line, for the terminal)."""


@dataclass
class TunnelView:
    """One running tunnel, as the inspector shows it; the agent sets ``public_url``."""

    name: str
    local_host: str
    port: int
    local_timeout: float
    public_url: str | None = None

    @property
    def addr(self) -> str:
        host = f"[{self.local_host}]" if ":" in self.local_host else self.local_host
        return f"http://{host}:{self.port}"

    def as_json(self) -> dict[str, Any]:
        proto = (self.public_url or "").partition("://")[0] or None
        return {
            "name": self.name,
            "uri": f"/api/tunnels/{self.name}",
            "public_url": self.public_url,
            "proto": proto,
            "config": {"addr": self.addr, "inspect": True},
        }


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    inspector: Inspector

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a browser closing a live-update stream, say; nothing to tell the terminal


class _Server6(_Server):
    address_family = socket.AF_INET6


class Inspector:
    """The page and API over ``traffic``, for the tunnels ``tunnels()`` lists."""

    def __init__(self, traffic: Traffic, tunnels: Callable[[], Sequence[TunnelView]]) -> None:
        self.traffic = traffic
        self.tunnels = tunnels
        self.host = ""
        self.port = 0
        self.closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, host: str = "127.0.0.1", port: int = 4040, next_free: bool = True) -> str:
        """Listen on ``host:port`` (or the next free of the following ports), serve in a daemon
        thread; the inspector's URL. ``InspectorError`` if it cannot listen."""
        server_class = _Server6 if ":" in host else _Server
        tries = NEXT_FREE_PORTS if next_free and port else 1
        server: _Server | None = None
        last: OSError | None = None
        candidate = port
        for candidate in range(port, min(port + tries, 65536)):
            try:
                server = server_class((host, candidate), _Handler)
                break
            except OSError as error:
                last = error
                if error.errno != errno.EADDRINUSE:
                    break
        if server is None:
            span = f"{host}:{port}" + (f" to {candidate}" if candidate != port else "")
            reason = (last.strerror or str(last)) if last is not None else "failed"
            raise InspectorError(f"cannot listen on {span}: {reason.lower()}")
        server.inspector = self
        self._server = server
        self.host = host
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="tunnel-inspector",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def close(self) -> None:
        """Stop serving (live-update streams end within a second)."""
        self.closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def view(self, name: str) -> TunnelView | None:
        return next((view for view in self.tunnels() if view.name == name), None)


def _limit(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or not 0 < int(value) <= MAX_LIMIT:
        raise _ApiError(400, f"limit must be a whole number from 1 to {MAX_LIMIT} (got {value!r})")
    return int(value)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "tunnel-inspector"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    # Dispatch ---------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    @property
    def inspector(self) -> Inspector:
        return self.server.inspector

    def _dispatch(self, method: str) -> None:
        try:
            length = self._content_length()
            has_body = length > 0 or "Transfer-Encoding" in self.headers
            url = urlsplit(self.path)
            path = unquote(url.path)
            refused = guard.refusal(method, self.headers, self.inspector.host, has_body, path)
            if refused is not None:
                self._drain(length)
                raise _ApiError(*refused)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            self._route(method, path, query, length)
        except _ApiError as error:
            self.close_connection = True
            self._json(error.status, _error_body(error.status, error.message))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # never a traceback to the client or the terminal
            self.close_connection = True
            self._json(500, _error_body(500, f"the inspector failed: {type(error).__name__}"))

    def _route(self, method: str, path: str, query: dict[str, str], length: int) -> None:
        if path in ("/", "/inspect/http", "/inspect/http/"):
            self._allow(method, "GET", "HEAD")
            return self._static("index.html", method)
        if path.startswith("/static/"):
            self._allow(method, "GET", "HEAD")
            return self._static(path.removeprefix("/static/"), method)
        if path in ("/api", "/api/"):
            self._allow(method, "GET")
            return self._json(
                200, {"uri": "/api", "tunnels": "/api/tunnels", "requests": REQUESTS_URI}
            )
        if path == "/api/tunnels":
            self._allow(method, "GET")
            tunnels = [view.as_json() for view in self.inspector.tunnels()]
            return self._json(200, {"tunnels": tunnels, "uri": "/api/tunnels"})
        if path.startswith("/api/tunnels/"):
            self._allow(method, "GET")
            view = self.inspector.view(path.removeprefix("/api/tunnels/"))
            if view is None:
                raise _ApiError(404, f"no tunnel named {path.removeprefix('/api/tunnels/')!r}")
            return self._json(200, view.as_json())
        if path == REQUESTS_URI:
            self._allow(method, "GET", "POST", "DELETE")
            if method == "GET":
                return self._list(query)
            if method == "POST":
                return self._replay(self._read_json(length))
            self._drain(length)
            self.inspector.traffic.clear()
            return self._empty(204)
        if match := _REQUEST_PATH.match(path):
            self._allow(method, "GET")
            captured = self.inspector.traffic.get(match.group(1))
            if captured is None:
                raise _ApiError(404, f"no captured request with id {match.group(1)!r}")
            return self._json(200, captured_json(captured))
        if path == "/api/events":
            self._allow(method, "GET")
            return self._events()
        raise _ApiError(404, f"nothing at {path[:100]!r}")

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise _ApiError(405, f"{method} is not allowed here (use {', '.join(allowed)})")

    # Handlers ---------------------------------------------------------------------------------

    def _list(self, query: dict[str, str]) -> None:
        status = query.get("status")
        if status and not re.fullmatch(r"[1-5]([0-9]{2}|xx)", status.strip().lower()):
            raise _ApiError(400, f"status must be a code like 404 or a class like 4xx ({status!r})")
        captured = self.inspector.traffic.newest(
            _limit(query.get("limit")),
            tunnel_name=query.get("tunnel_name") or None,
            path=query.get("path") or None,
            method=query.get("method") or None,
            status=status or None,
        )
        full = query.get("summary", "") not in ("1", "true")
        requests = [captured_json(c, full=full) for c in captured]
        self._json(200, {"uri": REQUESTS_URI, "requests": requests})

    def _replay(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise _ApiError(400, 'the body must be a JSON object like {"id": "req_..."}')
        request_id = body.get("id")
        if not isinstance(request_id, str) or not request_id:
            raise _ApiError(400, '"id" (the captured request to replay) is required')
        captured = self.inspector.traffic.get(request_id)
        if captured is None:
            raise _ApiError(404, f"no captured request with id {request_id!r}")
        name = body.get("tunnel_name") or captured.exchange.tunnel_name
        if not isinstance(name, str):
            raise _ApiError(400, '"tunnel_name" must be a string')
        view = self.inspector.view(name)
        if view is None:
            raise _ApiError(409, f"tunnel {name!r} is not running: nothing to replay it to")
        try:
            request = replay.replay_request(captured, body.get("request"))
        except replay.BadEdit as error:
            raise _ApiError(400, str(error)) from None
        except replay.ReplayRefused as error:
            raise _ApiError(409, str(error)) from None
        new_id = self.inspector.traffic.add(replay.send(request, view, captured.id))
        self._empty(204, [("Location", f"{REQUESTS_URI}/{new_id}")])

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        traffic, closing = self.inspector.traffic, self.inspector.closing
        seen = traffic.version
        self._event(seen)
        quiet = 0.0
        while not closing.is_set():
            version = traffic.wait(seen, 1.0)
            if version != seen:
                seen, quiet = version, 0.0
                self._event(version)
            else:
                quiet += 1.0
                if quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()

    def _event(self, version: int) -> None:
        data = json.dumps({"version": version, "count": len(self.inspector.traffic)})
        self.wfile.write(f"event: traffic\ndata: {data}\n\n".encode())
        self.wfile.flush()

    def _static(self, name: str, method: str) -> None:
        content_type = STATIC_FILES.get(name)
        if content_type is None:
            raise _ApiError(404, f"no static file {name[:60]!r}")
        data = resources.files("tunnel_cli.inspector").joinpath("static", name).read_bytes()
        headers = [("Content-Type", content_type), ("Content-Security-Policy", PAGE_POLICY)]
        self._send(200, headers, data, head=method == "HEAD")

    # Reading and writing ----------------------------------------------------------------------

    def _content_length(self) -> int:
        value = self.headers.get("Content-Length")
        if value is None:
            return 0
        if not value.strip().isdigit():
            raise _ApiError(400, f"bad Content-Length {value[:40]!r}")
        return int(value)

    def _drain(self, length: int) -> None:
        if 0 < length <= MAX_API_BODY_BYTES:
            self.rfile.read(length)

    def _read_json(self, length: int) -> Any:
        if "Transfer-Encoding" in self.headers:
            raise _ApiError(411, "send the JSON body with a Content-Length")
        if length > MAX_API_BODY_BYTES:
            raise _ApiError(413, f"the body is over {MAX_API_BODY_BYTES:,} bytes")
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            raise _ApiError(400, 'the body must be a JSON object like {"id": "req_..."}')
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _ApiError(400, f"the body is not valid JSON: {error}") from None

    def _json(self, status: int, document: Any) -> None:
        data = json.dumps(document, separators=(",", ":")).encode()
        self._send(status, [("Content-Type", "application/json")], data)

    def _empty(self, status: int, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for name, value in headers or []:
            self.send_header(name, value)
        self._common_headers()
        self.end_headers()

    def _send(
        self, status: int, headers: list[tuple[str, str]], data: bytes, head: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self._common_headers()
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _common_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        if self.close_connection:
            self.send_header("Connection", "close")


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error_code": status, "status_code": status, "msg": message}
