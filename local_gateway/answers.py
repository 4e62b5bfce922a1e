"""API Gateway's own answers, when no integration answers: ``{"message": "..."}`` in JSON."""

from __future__ import annotations

import json

from aiohttp import web

NOT_FOUND = (404, "Not Found")
FORBIDDEN = (403, "Forbidden")
UNAUTHORIZED = (401, "Unauthorized")
TOO_LARGE = (413, "Request Entity Too Large")
INTERNAL_ERROR = (500, "Internal Server Error")
UNAVAILABLE = (503, "Service Unavailable")
GATEWAY_TIMEOUT = (504, "Endpoint request timed out")


def answer(
    status_and_message: tuple[int, str], headers: dict[str, str] | None = None
) -> web.Response:
    status, message = status_and_message
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        content_type="application/json",
        headers=headers,
    )
