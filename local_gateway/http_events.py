"""HTTP API payload format 2.0: the request event a Lambda integration receives, and how its
answer becomes the HTTP response.

Request: header names lowercased, repeated values joined with commas, ``cookie`` headers split
into ``cookies``; ``rawQueryString`` exactly as sent; ``rawPath`` percent-decoded, as HTTP APIs
deliver it (unlike REST APIs and function URLs); the body as text only for ``text/*``,
``application/json``, ``application/xml`` and ``application/javascript`` (what AWS treats as
text), base64 otherwise.

Response: a JSON object with ``statusCode`` gives status, headers, one ``Set-Cookie`` per
``cookies`` entry and the body (base64-decoded when ``isBase64Encoded``). Anything else that is
valid JSON is inferred: 200, ``application/json``, the result itself as the body.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from tunnel_shared.headers import FRAMING, HOP_BY_HOP

from local_gateway.request_meta import request_time

_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
# Connection-level headers belong to the gateway's own HTTP exchange, not to the integration.
_HOP_BY_HOP = HOP_BY_HOP | FRAMING


class BadResponse(ValueError):
    """An integration answer API Gateway cannot turn into a response (a 500)."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_target: str  # the request target as sent: "/a%20b?x=1&x=2"
    protocol: str  # "HTTP/1.1"
    headers: list[tuple[str, str]]  # as sent, in order, plus what API Gateway adds
    body: bytes
    source_ip: str
    domain_name: str  # the Host, without its port


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def raw_path(request: HttpRequest) -> str:
    return unquote(request.raw_target.partition("?")[0])


def is_text(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_TYPES


def request_event(
    request: HttpRequest,
    *,
    path: str,
    route_key: str,
    path_parameters: dict[str, str],
    stage: str,
    stage_variables: dict[str, str],
    api_id: str,
    account_id: str,
    request_id: str,
    epoch_millis: int,
) -> dict[str, Any]:
    """``path`` is the rawPath API Gateway delivers (a named stage's prefix included)."""
    raw_query = request.raw_target.partition("?")[2]
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if stage_variables:
        event["stageVariables"] = stage_variables
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": request.domain_name,
        "domainPrefix": request.domain_name.split(".")[0],
        "http": {
            "method": request.method,
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": request_time(epoch_millis),
        "timeEpoch": epoch_millis,
    }
    text = _as_text(request.body, headers.get("content-type"))
    if request.body:
        event["body"] = text if text is not None else base64.b64encode(request.body).decode()
    event["isBase64Encoded"] = bool(request.body) and text is None
    return event


def _as_text(body: bytes, content_type: str | None) -> str | None:
    if not is_text(content_type):
        return None
    try:
        return body.decode()
    except UnicodeDecodeError:
        return None


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadResponse(f"header {name!r} has a {type(value).__name__} value")
    return str(value)


def response_from(result: Any, payload: str) -> HttpResponse:
    """Map an integration's result (and its JSON text, ``payload``) to the HTTP response."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(200, [("content-type", "application/json")], payload.encode())
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise BadResponse(f"statusCode {status!r} is not an HTTP status")
    headers = result.get("headers") or {}
    cookies = result.get("cookies") or []
    if not isinstance(headers, dict):
        raise BadResponse("headers is not an object")
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise BadResponse("cookies is not a list of strings")
    pairs = [
        (name, _header_value(name, value))
        for name, value in headers.items()
        if name.lower() not in _HOP_BY_HOP
    ]
    pairs += [("set-cookie", cookie) for cookie in cookies]
    body = result.get("body")
    if body is None:
        return HttpResponse(status, pairs, b"")
    if not isinstance(body, str):
        raise BadResponse("body is not a string")
    if result.get("isBase64Encoded") is True:
        try:
            return HttpResponse(status, pairs, base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError):
            raise BadResponse("body is not valid base64") from None
    return HttpResponse(status, pairs, body.encode())
