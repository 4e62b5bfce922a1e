"""The developer's local service at the far end of the tunnel: it echoes what it received.

``/echo`` answers with a JSON description of the request it got (method, raw target, every
header pair in order, the body as base64) and sets two cookies; ``/bytes/<n>`` answers ``n``
random bytes (the same ones the test keeps); ``/status/<code>`` answers that status, and
``/slow/<seconds>`` waits before answering.

For large bodies: ``/sha256`` answers the SHA-256 and size of the body it received;
``/mirror`` answers that body itself, with its Content-Type; ``/gzip`` answers a gzip'd page
(``Content-Encoding: gzip``); ``/chunked/<n>`` answers ``n`` random bytes with no
Content-Length (chunked); ``/trickle/<n>`` answers ``n`` bytes slowly, 64 KB every 50 ms;
``/toss`` sets cookies for other hosts (``Domain=``), as a hostile tenant would.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"<!doctype html><title>tunnel</title>" + b"<p>compressible text</p>" * 4000
GZIPPED_PAGE = gzip.compress(PAGE, mtime=0)


class LocalApp:
    def __init__(self) -> None:
        self.payloads: dict[int, bytes] = {}
        # (method, target) of every request, in the order they arrived.
        self.received: list[tuple[str, str]] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                app.received.append((self.command, self.path))
                path = self.path.split("?")[0]
                if path.startswith("/bytes/"):
                    size = int(path.rsplit("/", 1)[1])
                    data = app.payloads.setdefault(size, os.urandom(size))
                    self._send(200, [("content-type", "application/octet-stream")], data)
                elif path == "/sha256":
                    digest = {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
                    self._send(
                        200, [("content-type", "application/json")], json.dumps(digest).encode()
                    )
                elif path == "/mirror":
                    kind = self.headers.get("content-type", "application/octet-stream")
                    self._send(200, [("content-type", kind)], body)
                elif path == "/toss":
                    tossed = [
                        ("set-cookie", "parent=1; Domain=localhost; Path=/"),
                        ("set-cookie", "sibling=2; Domain=other.execute-api.localhost"),
                    ]
                    self._send(200, tossed, b"tossed")
                elif path == "/gzip":
                    headers = [("content-type", "text/html"), ("content-encoding", "gzip")]
                    self._send(200, headers, GZIPPED_PAGE)
                elif path.startswith("/chunked/"):
                    size = int(path.rsplit("/", 1)[1])
                    self._send_chunked(app.payloads.setdefault(size, os.urandom(size)))
                elif path.startswith("/trickle/"):
                    self._trickle(int(path.rsplit("/", 1)[1]))
                elif path.startswith("/status/"):
                    self._send(int(path.rsplit("/", 1)[1]), [], b"")
                elif path.startswith("/slow/"):
                    time.sleep(float(path.rsplit("/", 1)[1]))
                    self._send(200, [("content-type", "text/plain")], b"slow")
                else:
                    echoed = {
                        "method": self.command,
                        "target": self.path,
                        "headers": [[k.lower(), v] for k, v in self.headers.items()],
                        "body": base64.b64encode(body).decode(),
                    }
                    self._send(
                        200,
                        [
                            ("content-type", "application/json"),
                            ("set-cookie", "first=1; Path=/"),
                            ("set-cookie", "second=2; Path=/; HttpOnly"),
                        ],
                        json.dumps(echoed).encode(),
                    )

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                if status not in (204, 304):
                    self.send_header("content-length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD" and status not in (204, 304):
                    self.wfile.write(body)

            def _send_chunked(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/octet-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for start in range(0, len(data), 100_000):
                    piece = data[start : start + 100_000]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

            def _trickle(self, size: int) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/octet-stream")
                self.send_header("content-length", str(size))
                self.end_headers()
                try:
                    for start in range(0, size, 65536):
                        self.wfile.write(b"t" * min(65536, size - start))
                        time.sleep(0.05)
                except OSError:  # the agent went away mid-answer
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _answer  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
