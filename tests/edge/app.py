"""The local app behind the edge tests' agents: a standard-library server on a port the OS
picks, in a thread.

- ``/hello``: a short 200; the ``X-Forwarded-For`` each request came with is recorded (the
  source IP the edge saw, which the WAF's per-client rule counts);
- ``/download``: ``DOWNLOAD_BYTES`` deterministic bytes (``blocks``), written 64 KB at a time;
- ``/events``: an endless ``text/event-stream``, one event every 100 ms, until a write fails;
  then ``events_closed`` is set.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK_BYTES = 64 * 1024
DOWNLOAD_BYTES = 100 * 1024 * 1024
EVENT_INTERVAL_SECONDS = 0.1


def blocks(total: int = DOWNLOAD_BYTES) -> Iterator[bytes]:
    """The download's bytes, block by block: the same on every call (block i seeded by i)."""
    for index in range(0, (total + BLOCK_BYTES - 1) // BLOCK_BYTES):
        size = min(BLOCK_BYTES, total - index * BLOCK_BYTES)
        yield random.Random(index).randbytes(size)


def download_sha256(total: int = DOWNLOAD_BYTES) -> str:
    digest = hashlib.sha256()
    for block in blocks(total):
        digest.update(block)
    return digest.hexdigest()


class EdgeApp:
    def __init__(self) -> None:
        self.forwarded_for: list[str] = []
        self.events_sent = 0
        self.events_closed = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def start(self) -> None:
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                if path == "/hello":
                    app.forwarded_for.append(self.headers.get("X-Forwarded-For", ""))
                    self._plain(b"hello\n")
                elif path == "/download":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(DOWNLOAD_BYTES))
                    self.end_headers()
                    for block in blocks():
                        self.wfile.write(block)
                elif path == "/events":
                    self._events()
                else:
                    self.send_error(404)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                # /sha256: the digest of the body as the app received it.
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._plain(hashlib.sha256(body).hexdigest().encode())

            def _plain(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _events(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    n = 0
                    while True:
                        self.wfile.write(f"data: {n}\n\n".encode())
                        self.wfile.flush()
                        app.events_sent = n + 1
                        n += 1
                        time.sleep(EVENT_INTERVAL_SECONDS)  # the app's pace, not a test's wait
                except OSError:
                    pass  # the agent closed the connection: what the test waits for
                finally:
                    app.events_closed.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
