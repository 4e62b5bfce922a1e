"""REST API Lambda proxy events (payload 1.0) read as the HTTP API 2.0 events forwarding reads.

Where a custom domain is set, the public edge is a REST API whose forwarding integration
streams; it sends the v1 event ("Input format of a Lambda function for proxy integration",
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html;
the streamed integration takes the same input, response-transfer-mode-lambda.html). forwarding
reads 2.0 events, so ``as_http_event`` rewrites one into the other and forwarding's reading,
routing and checks stay one piece of code.

What a v1 event cannot give back exactly (documented, not guessed):
- The query string. v1 has no ``rawQueryString``, only the decoded
  ``multiValueQueryStringParameters`` ("the order of the request parameters is not preserved").
  It is rebuilt from them: duplicates kept, in the order the event lists them, each key and
  value percent-encoded again (``a b`` and ``a+b`` both arrive as ``a%20b``; ``a=1&a`` becomes
  ``a=1&a=``).
- The path. REST APIs deliver ``path`` percent-encoded, HTTP APIs decode ``rawPath``
  (middleapi/standard-server#93, from live captures in hotsock/voker#8): it is decoded here, so
  forwarding sees what an HTTP API would have given it.
- Repeated headers arrive in ``multiValueHeaders``; they are joined with commas, as HTTP APIs
  join them, and ``Cookie`` headers are split into ``cookies``, as HTTP APIs split them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from tunnel_shared.events import BadEvent


def is_rest_event(event: object) -> bool:
    """A REST API (payload 1.0) proxy event: ``httpMethod`` at the top, no ``version`` 2.0."""
    return (
        isinstance(event, dict)
        and event.get("version") in (None, "1.0")
        and isinstance(event.get("httpMethod"), str)
        and "requestContext" in event
    )


def _pairs(event: dict[str, Any], multi: str, single: str) -> list[tuple[str, str]]:
    """Every (name, value) of a v1 map: the multi-value one where given, else the single one."""
    values = event.get(multi)
    if values is None:
        values = {k: [v] for k, v in (event.get(single) or {}).items()}
    if not isinstance(values, dict):
        raise BadEvent(f"event {multi} is not an object")
    pairs = []
    for name, listed in values.items():
        if not isinstance(name, str) or not isinstance(listed, list):
            raise BadEvent(f"event {multi} is not a map of lists")
        for value in listed:
            if not isinstance(value, str):
                raise BadEvent(f"event {multi} has a value that is not a string")
            pairs.append((name, value))
    return pairs


# What stays as it is when the query is rebuilt: RFC 3986's query characters but the ones that
# would change how it splits (&, =, +, #, %). A browser leaves these unencoded too (WHATWG URL,
# the query percent-encode set), so ``?next=/admin/`` reaches the app as the browser sent it.
QUERY_SAFE = "/:@!$'()*,;?[]"


def raw_query(event: dict[str, Any]) -> str:
    """The query string rebuilt from the decoded parameters (see the module's docstring)."""
    pairs = _pairs(event, "multiValueQueryStringParameters", "queryStringParameters")
    return "&".join(f"{quote(k, safe=QUERY_SAFE)}={quote(v, safe=QUERY_SAFE)}" for k, v in pairs)


def as_http_event(event: object) -> dict[str, Any]:
    """The 2.0 event an HTTP API would have sent for the request in ``event``; BadEvent (one
    line naming the field) if a field REST APIs always send is missing or of the wrong type."""
    if not is_rest_event(event):
        raise BadEvent("event is not a REST API proxy event")
    assert isinstance(event, dict)
    context = event["requestContext"]
    if not isinstance(context, dict):
        raise BadEvent("event has no requestContext")
    path = event.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise BadEvent("event has no path")
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in _pairs(event, "multiValueHeaders", "headers"):
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            headers[key] = f"{headers[key]},{value}" if key in headers else value
    identity = context.get("identity") if isinstance(context.get("identity"), dict) else {}
    source_ip = identity.get("sourceIp")
    domain_name = context.get("domainName")
    decoded = unquote(path)
    http_event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": decoded,
        "rawQueryString": raw_query(event),
        "headers": headers,
        "requestContext": {
            "domainName": domain_name if isinstance(domain_name, str) else "",
            "http": {
                "method": event["httpMethod"],
                "path": decoded,
                "protocol": str(context.get("protocol") or "HTTP/1.1"),
                "sourceIp": source_ip if isinstance(source_ip, str) else "",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(context.get("requestId") or ""),
            "routeKey": "$default",
            "stage": str(context.get("stage") or ""),
        },
        "isBase64Encoded": event.get("isBase64Encoded") is True,
    }
    if cookies:
        http_event["cookies"] = cookies
    body = event.get("body")
    if body is not None:
        if not isinstance(body, str):
            raise BadEvent("event body is not a string")
        http_event["body"] = body
    return http_event


def as_rest_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """forwarding's 2.0-style answer as a buffered REST integration takes it: v1 has no
    ``cookies`` ("Output format of a Lambda function for proxy integration"), so each becomes a
    ``Set-Cookie`` in ``multiValueHeaders``. A streamed integration's prelude takes ``cookies``
    as they are (response-transfer-mode-lambda.html): this is for the buffered path only."""
    result = {k: v for k, v in answer.items() if k != "cookies"}
    cookies = answer.get("cookies") or []
    if cookies:
        multi = dict(result.get("multiValueHeaders") or {})
        multi["set-cookie"] = [*multi.get("set-cookie", []), *cookies]
        result["multiValueHeaders"] = multi
    return result
