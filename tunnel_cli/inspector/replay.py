"""Replaying a captured request to its tunnel's local service, as it was or edited.

The recorded headers are those the local service got (Host already final), so the request is
sent with ``host_header="preserve"`` and no cookies of its own; ``forward_blocking`` recomputes
Content-Length from the body sent. The answer is captured as a new exchange, ``replay_of`` the
original. A request whose body was captured only in part is never replayed as if whole
(``ReplayRefused``), unless the edit gives a body of its own.

An edit (the API's ``request`` object) may give any of ``method``, ``uri`` (``/path?query``),
``headers`` (``{name: [values]}`` or ``[[name, value], ...]``, replacing all of them), and the
body as ``body`` (base64) or the whole message as ``raw`` (base64 of ``METHOD target HTTP/1.1``,
headers, blank line, body); what it leaves out stays as recorded.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunnel_cli.forward import LocalRequest, forward_blocking, request_headers
from tunnel_cli.inspector.traffic import Captured, Exchange

if TYPE_CHECKING:
    from tunnel_cli.inspector.server import TunnelView


class BadEdit(ValueError):
    """The edited request cannot be used (the message names the field)."""


class ReplayRefused(Exception):
    """The replay cannot be made as asked (a partial body, no such tunnel)."""


@dataclass(frozen=True)
class ReplayRequest:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


def _b64decode(value: object, field: str) -> bytes:
    if not isinstance(value, str):
        raise BadEdit(f"request.{field} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadEdit(f"request.{field} is not valid base64") from None


def _headers(value: object) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for name, values in value.items():
            if isinstance(values, str):
                values = [values]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise BadEdit(f"request.headers[{name!r}] must be a list of strings")
            pairs.extend((str(name), v) for v in values)
    elif isinstance(value, list):
        for pair in value:
            if (
                not isinstance(pair, list | tuple)
                or len(pair) != 2
                or not all(isinstance(part, str) for part in pair)
            ):
                raise BadEdit("request.headers must be {name: [values]} or [[name, value], ...]")
            pairs.append((pair[0], pair[1]))
    else:
        raise BadEdit("request.headers must be {name: [values]} or [[name, value], ...]")
    for name, value in pairs:
        if not name or any(c in name for c in " \t\r\n:") or any(c in value for c in "\r\n"):
            raise BadEdit(f"request.headers: {name!r} is not a valid header")
    return pairs


def _target(value: object, field: str = "uri") -> str:
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in " #"):
        raise BadEdit(f"request.{field} must be a path like /path?query")
    return value


def _parse_raw(raw: bytes) -> ReplayRequest:
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        head, separator, body = raw.partition(b"\n\n")
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha():
        raise BadEdit("request.raw does not start with 'METHOD /target HTTP/1.1'")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise BadEdit(f"request.raw: {line[:60]!r} is not a header line")
        headers.append((name.strip(), value.strip()))
    return ReplayRequest(parts[0].upper(), _target(parts[1], "raw"), headers, body)


def replay_request(captured: Captured, edit: Mapping[str, Any] | None) -> ReplayRequest:
    """What to send: the recorded request with ``edit`` applied (module docstring)."""
    exchange = captured.exchange
    recorded = ReplayRequest(
        exchange.method, exchange.target, list(exchange.request_headers), exchange.request_body
    )
    if edit is None:
        if captured.request_truncated:
            raise ReplayRefused(_partial(captured))
        return recorded
    if not isinstance(edit, Mapping):
        raise BadEdit("request must be an object")
    if "raw" in edit:
        return _parse_raw(_b64decode(edit["raw"], "raw"))
    method = edit.get("method", recorded.method)
    if not isinstance(method, str) or not method.isalpha():
        raise BadEdit("request.method must be a method name like POST")
    target = _target(edit["uri"]) if "uri" in edit else recorded.target
    headers = _headers(edit["headers"]) if "headers" in edit else recorded.headers
    if "body" in edit:
        body = _b64decode(edit["body"], "body")
    elif captured.request_truncated:
        raise ReplayRefused(_partial(captured) + "; give the edit a body of its own")
    else:
        body = recorded.body
    return ReplayRequest(method.upper(), target, headers, body)


def _partial(captured: Captured) -> str:
    exchange = captured.exchange
    return (
        f"request {captured.id}'s body was captured only in part "
        f"({len(exchange.request_body):,} of {exchange.request_size:,} bytes): it cannot be "
        "replayed as it was"
    )


def send(request: ReplayRequest, view: TunnelView, replay_of: str) -> Exchange:
    """Send ``request`` to ``view``'s local service; the exchange to capture."""
    path, _, query = request.target.partition("?")
    local = LocalRequest(request.method, path, query, request.headers, [], request.body)
    started, arrived = time.monotonic(), time.time()
    response = forward_blocking(
        local, view.local_host, view.port, view.local_timeout, host_header="preserve"
    )
    address = view.addr.removeprefix("http://")
    error = next((v for n, v in response.headers if n.lower() == "x-tunnel-error"), None)
    return Exchange(
        tunnel_name=view.name,
        started=arrived,
        duration=time.monotonic() - started,
        method=request.method,
        target=local.target,
        request_headers=request_headers(local, address, "preserve"),
        request_body=request.body,
        request_size=len(request.body),
        status=response.status,
        response_headers=list(response.headers),
        response_body=bytes(response.body),
        response_size=response.size,
        error=error if response.error else None,
        replay_of=replay_of,
    )
