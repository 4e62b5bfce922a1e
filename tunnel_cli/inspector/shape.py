"""A captured exchange as JSON, in the shape of ngrok's agent API (``/api/requests/http``).

ngrok's fields: ``uri``, ``id``, ``tunnel_name``, ``remote_addr``, ``start`` (RFC 3339 with the
offset), ``duration`` (nanoseconds), and ``request``/``response`` each with ``proto``,
``headers`` (``{Name: [values]}``, names in Go's canonical form, as ngrok's Go agent gives them),
``raw`` (the base64 of the message's bytes: start line, headers, body) and ``method``/``uri`` or
``status`` ("200 OK")/``status_code``.

Our own, for the page and for scripts that need more: ``header_list`` (every pair, in order, as
sent), ``body`` (base64 of the captured body), ``size`` (the body's full size), ``truncated``
(only part of the body was captured), and ``replay_of``, ``error``, ``started`` (Unix seconds),
``state`` and ``cut``.

A request is listed from the moment it arrives: ``state`` is ``"in flight"`` (``duration`` is the
time so far, growing, and ``response`` is null) until it is ``"answered"``, or ``"cut"`` at its
deadline: then ``response`` stays null (the local service's answer never reached the caller,
who got the forwarding function's 504) and ``cut`` says why, ``"cut at the deadline after
27.0 s"``.
"""

from __future__ import annotations

import base64
from datetime import datetime
from http import HTTPStatus
from typing import Any

from tunnel_cli.inspector.traffic import ANSWERED, Captured

PROTO = "HTTP/1.1"
REQUESTS_URI = "/api/requests/http"


def canonical_name(name: str) -> str:
    """``content-type`` → ``Content-Type`` (Go's ``http.CanonicalHeaderKey``)."""
    if not name or any(c in name for c in " \t\r\n:"):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def header_map(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Pairs as ``{Name: [values]}``, repeated names' values in order."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(canonical_name(name), []).append(value)
    return grouped


def status_text(status: int) -> str:
    """``200 OK``; a code with no standard phrase is just the code."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _header_block(headers: list[tuple[str, str]]) -> bytes:
    lines = b"".join(
        f"{name}: {value}\r\n".encode("latin-1", errors="replace") for name, value in headers
    )
    return lines + b"\r\n"


def raw_request(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """The request as it went on the wire to the local service (the captured part of its
    body)."""
    start = f"{method} {target} {PROTO}\r\n".encode("latin-1", errors="replace")
    return start + _header_block(headers) + body


def raw_response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    start = f"{PROTO} {status_text(status)}\r\n".encode()
    return start + _header_block(headers) + body


def rfc3339(timestamp: float) -> str:
    """``2024-05-01T12:00:00.123+02:00``: local time with its offset, as ngrok gives it."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="milliseconds")


def remote_addr(headers: list[tuple[str, str]]) -> str | None:
    """The caller's address, from the first ``X-Forwarded-For`` entry API Gateway sets."""
    for name, value in headers:
        if name.lower() == "x-forwarded-for" and value.strip():
            return value.split(",")[0].strip()
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def captured_json(captured: Captured, full: bool = True) -> dict[str, Any]:
    """``captured`` in ngrok's shape (module docstring). ``full=False`` leaves out the headers,
    bodies and raw bytes: the page's list needs only the summary."""
    exchange = captured.exchange
    request: dict[str, Any] = {
        "method": exchange.method,
        "proto": PROTO,
        "uri": exchange.target,
        "size": exchange.request_size,
        "truncated": captured.request_truncated,
    }
    response: dict[str, Any] = {
        "status": status_text(exchange.status),
        "status_code": exchange.status,
        "proto": PROTO,
        "size": exchange.response_size,
        "truncated": captured.response_truncated,
    }
    if full:
        request |= {
            "headers": header_map(exchange.request_headers),
            "header_list": [list(pair) for pair in exchange.request_headers],
            "raw": _b64(
                raw_request(
                    exchange.method,
                    exchange.target,
                    exchange.request_headers,
                    exchange.request_body,
                )
            ),
            "body": _b64(exchange.request_body),
        }
        response |= {
            "headers": header_map(exchange.response_headers),
            "header_list": [list(pair) for pair in exchange.response_headers],
            "raw": _b64(
                raw_response(exchange.status, exchange.response_headers, exchange.response_body)
            ),
            "body": _b64(exchange.response_body),
        }
    shaped: dict[str, Any] = {
        "uri": f"{REQUESTS_URI}/{captured.id}",
        "id": captured.id,
        "tunnel_name": exchange.tunnel_name,
        "start": rfc3339(exchange.started),
        "started": exchange.started,
        "duration": round(captured.duration * 1e9),
        "request": request,
        "response": response if exchange.state == ANSWERED else None,
        "replay_of": exchange.replay_of,
        "error": exchange.error,
        "state": exchange.state,
        "cut": exchange.cut,
    }
    address = remote_addr(exchange.request_headers)
    if address is not None:
        shaped["remote_addr"] = address
    return shaped
