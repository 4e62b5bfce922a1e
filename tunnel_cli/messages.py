"""The agent's side of the wire protocol (``tunnel_shared.protocol``): reading what the API
posts to it, and turning a local answer into one ``response`` message that fits.

A response the tunnel cannot carry (a body over its ceiling, or one too large for a message
when the request came with no upload URL) is answered **502 Bad Gateway** instead, with
``x-tunnel-error: response-too-large`` and a one-line body giving both sizes. Not 413: that
status says the *caller's request* was too large (RFC 9110 §15.5.14) and the forwarding
function already uses it for that; here the request was fine and the tunnel could not relay
the upstream's answer, which is what 502 means (§15.6.3).

Each request also says how long the public side still waits for it and the tunnel's cap on
requests in flight (``parse_budget``); a request from an older server says neither, and gets
the deadline the forwarding function derives (``limits.REQUEST_DEADLINE_SECONDS``) and no cap
of the server's (the agent then falls back to its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunnel_shared import protocol
from tunnel_shared.limits import MAX_MESSAGE_BYTES, REQUEST_DEADLINE_SECONDS, STREAM_MAX_SECONDS
from tunnel_shared.protocol import (
    ProtocolError,
    request_deadline_ms,
    request_in_flight_per_tunnel,
    response_message,
)

from tunnel_cli.forward import LocalRequest, LocalResponse, too_large


class MessageError(ValueError):
    """A message from the API that the agent cannot use; the message says why."""


def parse_server_message(raw: str | bytes) -> dict[str, Any]:
    """A JSON object with a string ``type``, from the API (``protocol.parse_server_message``)."""
    try:
        return protocol.parse_server_message(raw)
    except ProtocolError as error:
        raise MessageError(str(error)) from None


def request_id_of(message: dict[str, Any]) -> str | None:
    return protocol.valid_request_id(message.get("requestId"))


def parse_request(message: dict[str, Any]) -> LocalRequest:
    """A ``request`` message as the local request it describes (``protocol.parse_request``
    checks it, its requestId and budget included)."""
    try:
        request = protocol.parse_request(message)
    except ProtocolError as error:
        raise MessageError(str(error)) from None
    parts = (
        request.method,
        request.raw_path,
        request.raw_query_string,
        request.headers,
        request.cookies,
        request.body,
    )
    streamed = {"stream": request.stream, "parts_upload": request.parts_upload}
    stored = request.stored_body
    if stored is not None:
        return LocalRequest(*parts, stored.url, stored.size, request.response_body_url, **streamed)
    return LocalRequest(*parts, response_url=request.response_body_url, **streamed)


@dataclass(frozen=True)
class Budget:
    """What a request may take: ``seconds`` from its arrival (the public side's deadline), and
    the tunnel's cap on requests in flight when the server gave it."""

    seconds: float
    in_flight_per_tunnel: int | None


def parse_budget(message: dict[str, Any]) -> Budget:
    """A ``request``'s ``deadlineMs`` and ``inFlightPerTunnel``, checked; the defaults for a
    message without them (module docstring; a streamed request's default deadline is the
    edge's longest stream, ``limits.STREAM_MAX_SECONDS``)."""
    try:
        deadline_ms = request_deadline_ms(message)
        cap = request_in_flight_per_tunnel(message)
    except ProtocolError as error:
        raise MessageError(str(error)) from None
    default = STREAM_MAX_SECONDS if message.get("stream") is True else REQUEST_DEADLINE_SECONDS
    seconds = default if deadline_ms is None else deadline_ms / 1000
    return Budget(float(seconds), cap)


def reply_of(message: dict[str, Any]) -> protocol.Reply | None:
    """A request's ``replyTo`` and ``replyMac``, to echo unchanged in its response (None when
    it has none, or malformed ones: the server refuses that response either way)."""
    try:
        return protocol.reply_of(message)
    except ProtocolError:
        return None


def response_text(
    request_id: str, response: LocalResponse, reply: protocol.Reply | None = None
) -> tuple[str, LocalResponse]:
    """The ``response`` message for ``response``, with the request's ``reply`` fields echoed,
    and the response it actually carries: the local one, or the 502 that replaces it when it
    cannot fit (module docstring)."""
    if response.stored_bytes is not None:
        text = response_message(
            request_id, response.status, response.headers, b"", response.stored_bytes, reply
        )
        return text, response
    text = response_message(
        request_id, response.status, response.headers, response.body, reply=reply
    )
    if len(text.encode()) <= MAX_MESSAGE_BYTES:
        return text, response
    replacement = too_large(
        response.status,
        f"{len(text.encode()):,}-byte message for a {len(response.body):,}-byte body",
        f"the {MAX_MESSAGE_BYTES // 1024} KB a WebSocket message can carry through API Gateway, "
        "and the request came with no upload URL",
    )
    text = response_message(
        request_id, replacement.status, replacement.headers, replacement.body, reply=reply
    )
    return text, replacement
