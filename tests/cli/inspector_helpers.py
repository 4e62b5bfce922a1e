"""Feeding an inspector real traffic without a tunnel: forward a request to a local app with
``forward_blocking`` and capture the exchange as the agent does. Shared by the API and the
browser tests."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tunnel_cli.forward import LocalRequest, forward_blocking, request_headers
from tunnel_cli.inspector.server import Inspector, TunnelView
from tunnel_cli.inspector.traffic import Exchange, Traffic

PUBLIC_HOST = "demo.tunnel.test"


def tunnel_view(port: int, name: str = "demo") -> TunnelView:
    return TunnelView(name, "127.0.0.1", port, 5.0, public_url=f"https://{PUBLIC_HOST}")


def forward_and_capture(
    traffic: Traffic,
    view: TunnelView,
    method: str = "GET",
    target: str = "/",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> str:
    """Send one request to ``view``'s local service and capture it; its id."""
    path, _, query = target.partition("?")
    request = LocalRequest(method, path, query, [("Host", PUBLIC_HOST), *(headers or [])], [], body)
    started, arrived = time.monotonic(), time.time()
    response = forward_blocking(request, view.local_host, view.port, view.local_timeout)
    return traffic.add(
        Exchange(
            tunnel_name=view.name,
            started=arrived,
            duration=time.monotonic() - started,
            method=method,
            target=request.target,
            request_headers=request_headers(request, view.addr.removeprefix("http://")),
            request_body=body,
            request_size=len(body),
            status=response.status,
            response_headers=list(response.headers),
            response_body=bytes(response.body),
            response_size=response.size,
            error=response.error
            and next((v for n, v in response.headers if n == "x-tunnel-error"), None),
        )
    )


def exchange(
    target: str = "/x",
    request_body: bytes = b"",
    request_size: int | None = None,
    response_body: bytes = b"ok",
    status: int = 200,
    method: str = "GET",
    tunnel_name: str = "demo",
    headers: list[tuple[str, str]] | None = None,
) -> Exchange:
    """A made-up exchange, for the ring's own tests."""
    return Exchange(
        tunnel_name=tunnel_name,
        started=time.time(),
        duration=0.004,
        method=method,
        target=target,
        request_headers=headers or [("Host", PUBLIC_HOST)],
        request_body=request_body,
        request_size=len(request_body) if request_size is None else request_size,
        status=status,
        response_headers=[("Content-Type", "text/plain")],
        response_body=response_body,
        response_size=len(response_body),
    )


@contextmanager
def running_inspector(traffic: Traffic, views: list[TunnelView]) -> Iterator[Inspector]:
    inspector = Inspector(traffic, lambda: views)
    inspector.start("127.0.0.1", 0)
    try:
        yield inspector
    finally:
        inspector.close()


def call(
    inspector: Inspector,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One API call; the status, the headers and the JSON answer (None when empty)."""
    connection = http.client.HTTPConnection("127.0.0.1", inspector.port, timeout=10)
    sent = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    all_headers = {"Host": f"127.0.0.1:{inspector.port}"}
    if sent is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    connection.request(method, path, body=sent, headers=all_headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    answer_headers = {k.lower(): v for k, v in response.getheaders()}
    return response.status, answer_headers, json.loads(data) if data else None
