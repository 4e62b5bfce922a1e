"""A loopback stand-in for the Lambda Runtime API, for tests of tunnel_shared.streaming_runtime.

There is no real Runtime API outside Lambda; this server speaks the documented one and nothing
more ("Using the Lambda runtime API for custom runtimes", https://docs.aws.amazon.com/lambda/
latest/dg/runtimes-api.html):
- ``GET /2018-06-01/runtime/invocation/next`` answers 200 with the event as its body and the
  headers ``Lambda-Runtime-Aws-Request-Id``, ``Lambda-Runtime-Deadline-Ms``,
  ``Lambda-Runtime-Invoked-Function-Arn`` and ``Lambda-Runtime-Trace-Id``; it waits (no timeout)
  until the test queues an invocation;
- ``POST .../invocation/<id>/response``, ``.../invocation/<id>/error`` and ``.../init/error``
  answer 202 ``{"status": "OK"}``.

It parses HTTP/1.1 by hand so that the test sees the wire as sent: every header in order, each
chunk of a chunked body the moment it arrives (``Posted.chunks``, a queue), the trailers after
the last chunk. Nothing here is an instruction from AWS beyond the page above; response
streaming's headers and trailers are what the test asserts, not what the server needs.
"""

from __future__ import annotations

import json
import queue
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any, BinaryIO

NEXT = "/2018-06-01/runtime/invocation/next"
WAIT_SECONDS = 10.0  # for a test's wait on an event that should come at once


@dataclass
class Posted:
    """One POST as it arrives."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    chunks: queue.Queue[bytes | None] = field(default_factory=queue.Queue)  # None: last chunk
    trailers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""  # a Content-Length body, or the chunks joined once all arrived
    done: threading.Event = field(default_factory=threading.Event)

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[0] if found else None

    def next_chunk(self) -> bytes | None:
        """The next chunk, waiting for it to arrive (None: the body ended)."""
        return self.chunks.get(timeout=WAIT_SECONDS)

    def wait(self) -> Posted:
        assert self.done.wait(WAIT_SECONDS), f"{self.path} did not end"
        return self


class RuntimeApiServer:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._invocations: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.posts: queue.Queue[Posted] = queue.Queue()
        self.drop_after_first_chunk = False  # a streamed response's connection is reset then
        self._threads: list[threading.Thread] = []
        self._closed = False
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()

    def invoke(self, event: Any, request_id: str = "req-1") -> None:
        self._invocations.put((request_id, json.dumps(event).encode()))

    def next_post(self) -> Posted:
        return self.posts.get(timeout=WAIT_SECONDS)

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        try:
            while True:
                request_line = reader.readline()
                if not request_line:
                    return
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                headers = _headers(reader)
                if method == "GET" and path == NEXT:
                    self._next(connection)
                    continue
                posted = Posted(method, path, headers)
                self.posts.put(posted)
                if not self._read_body(reader, connection, posted):
                    return
                connection.sendall(
                    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 16\r\n\r\n{"status": "OK"}'
                )
        except (OSError, ValueError):
            return
        finally:
            reader.close()
            connection.close()

    def _next(self, connection: socket.socket) -> None:
        request_id, body = self._invocations.get()
        head = (
            "HTTP/1.1 200 OK\r\n"
            f"Lambda-Runtime-Aws-Request-Id: {request_id}\r\n"
            "Lambda-Runtime-Deadline-Ms: 4102444800000\r\n"
            "Lambda-Runtime-Invoked-Function-Arn: "
            "arn:aws:lambda:us-east-1:123456789012:function:http-tunnel-forwarding-dev\r\n"
            "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        connection.sendall(head.encode() + body)

    def _read_body(self, reader: BinaryIO, connection: socket.socket, posted: Posted) -> bool:
        """Read the body; False if the connection was dropped on purpose."""
        encoding = (posted.header("Transfer-Encoding") or "").lower()
        if encoding != "chunked":
            posted.body = reader.read(int(posted.header("Content-Length") or 0))
            posted.chunks.put(None)
            posted.done.set()
            return True
        received = []
        while True:
            size_line = reader.readline()
            if not size_line:
                posted.done.set()
                return False
            size = int(size_line.strip().split(b";")[0], 16)
            if size == 0:
                posted.trailers = _headers(reader)
                break
            data = reader.read(size)
            assert reader.read(2) == b"\r\n", "a chunk must end with CRLF"
            received.append(data)
            posted.chunks.put(data)
            if self.drop_after_first_chunk:
                # A reset, not a polite close: the sender's next writes fail, as when Lambda's
                # end of a streamed response goes away.
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                posted.done.set()
                return False
        posted.body = b"".join(received)
        posted.chunks.put(None)
        posted.done.set()
        return True


def _headers(reader: BinaryIO) -> list[tuple[str, str]]:
    headers = []
    while True:
        line = reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
