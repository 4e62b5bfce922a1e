"""API Gateway's own answers, when no integration answers: ``{"message": "..."}`` in JSON, but
for a body over the HTTP API's payload limit, which gets plain text (aws_fidelity.rules)."""

from __future__ import annotations

import json

from aiohttp import web

from aws_fidelity import rules

NOT_FOUND = (404, "Not Found")
FORBIDDEN = (403, "Forbidden")
UNAUTHORIZED = (401, "Unauthorized")
INTERNAL_ERROR = (500, "Internal Server Error")
# A function result over Lambda's limit (rules.check_invocation_response): the status is AWS's,
# the HTTP API's body for it is not confirmed.
BAD_GATEWAY = (502, "Internal Server Error")
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


def content_length_exceeded(refused: rules.Refused) -> web.Response:
    """rules.check_http_api_payload's refusal: ``HTTP content length exceeded 10485760 bytes.``
    as plain text, ``content-type: text; charset=utf-8``, no error type."""
    return web.Response(
        status=refused.status,
        body=refused.message.encode(),
        headers={"Content-Type": "text; charset=utf-8"},
    )


def request_too_long(refused: rules.Refused) -> web.Response:
    """rules.check_invocation_request's refusal: 413 ``{"message": "Request Too Long"}`` with
    ``x-amzn-errortype: BadRequestException``."""
    return answer((refused.status, refused.message), headers={"x-amzn-errortype": refused.code})
