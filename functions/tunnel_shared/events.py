"""Reading API Gateway events defensively: a malformed event is an answer, never a traceback."""

from __future__ import annotations

from typing import Any


class BadEvent(ValueError):
    """The event lacks a field API Gateway always sends; the message names it."""


def request_context(event: object) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise BadEvent("event is not an object")
    context = event.get("requestContext")
    if not isinstance(context, dict):
        raise BadEvent("event has no requestContext")
    return context


def connection_id(event: object) -> str:
    value = request_context(event).get("connectionId")
    if not isinstance(value, str) or not 0 < len(value) <= 128:
        raise BadEvent("event has no requestContext.connectionId")
    return value


def authorizer(event: object) -> dict[str, Any]:
    value = request_context(event).get("authorizer")
    return value if isinstance(value, dict) else {}
