"""The agent streams large bodies: a 4 MB upload from its presigned GET into the local service,
and a 4 MB response from the local service to its presigned PUT, each through a small buffer,
never whole in memory (tracemalloc counts every Python allocation, in every thread)."""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tunnel_cli.forward import LocalRequest, forward_blocking

SIZE = 4 * 1024 * 1024
# Far below one copy of the body: what streaming costs is buffers, not bodies.
MOST_ALLOCATED = SIZE // 4


class Store:
    """S3's part: serves ``data`` to GETs; hashes what PUTs send, reading in chunks."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.received: list[tuple[str, int]] = []


class Local:
    """The local service: hashes the body it receives and answers ``data``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.received: list[tuple[str, int]] = []


def _hash_body(handler: BaseHTTPRequestHandler) -> tuple[str, int]:
    left = int(handler.headers.get("content-length") or 0)
    digest, size = hashlib.sha256(), left
    while left:
        chunk = handler.rfile.read(min(65536, left))
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest(), size


def _serve(state: Store | Local) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            if self.command == "PUT" or isinstance(state, Local):
                state.received.append(_hash_body(self))
            body = b"" if self.command == "PUT" else state.data
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = _answer  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture
def ends() -> Iterator[tuple[Store, int, Local, int]]:
    store, local = Store(os.urandom(SIZE)), Local(os.urandom(SIZE))
    store_server, store_port = _serve(store)
    local_server, local_port = _serve(local)
    yield store, store_port, local, local_port
    store_server.shutdown()
    local_server.shutdown()


def test_a_4_mb_upload_and_a_4_mb_response_stream_through_small_buffers(ends):
    store, store_port, local, local_port = ends
    request = LocalRequest(
        "POST",
        "/upload",
        "",
        [("host", "demo.tunnel.test")],
        [],
        b"",
        body_url=f"http://127.0.0.1:{store_port}/spill/r1/request?X-Amz-Signature=x",
        body_bytes=SIZE,
        response_url=f"http://127.0.0.1:{store_port}/spill/r1/response?X-Amz-Signature=y",
    )
    tracemalloc.start()
    try:
        response = forward_blocking(request, "127.0.0.1", local_port, timeout=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (response.status, response.stored_bytes, response.body) == (200, SIZE, b"")
    assert local.received == [(hashlib.sha256(store.data).hexdigest(), SIZE)]
    assert store.received == [(hashlib.sha256(local.data).hexdigest(), SIZE)]
    assert peak < MOST_ALLOCATED, f"{peak:,} bytes allocated at the peak"
