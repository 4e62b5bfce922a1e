"""The events a WebSocket API sends its Lambda functions: the REQUEST authorizer's, and the
proxy events of ``$connect``, each message and ``$disconnect`` (shapes as in the field notes and
API Gateway's documented examples)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local_gateway.request_meta import aws_id, epoch_ms, request_time

# API Gateway's words for close codes a client sent no reason with.
_DISCONNECT_REASONS = {
    1000: "Client-side close frame status set to 1000",
    1001: "Going away",
    1005: "Client-side close frame status not set",
    1006: "Connection was closed abnormally",
    1009: "Message too big",
}


@dataclass(frozen=True)
class Caller:
    """What stays the same for every event of one connection."""

    api_id: str
    stage: str
    domain_name: str
    connection_id: str
    connected_at: int  # epoch ms
    source_ip: str
    user_agent: str


def _single_and_multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """REST-style ``x`` (last value wins) and ``multiValueX`` (every value) maps."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def request_context(
    caller: Caller, route_key: str, event_type: str, **extra: Any
) -> dict[str, Any]:
    now = epoch_ms()
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": aws_id(),
        "requestTime": request_time(now),
        "messageDirection": "IN",
        "stage": caller.stage,
        "connectedAt": caller.connected_at,
        "requestTimeEpoch": now,
        "identity": {"sourceIp": caller.source_ip, "userAgent": caller.user_agent},
        "requestId": aws_id(),
        "domainName": caller.domain_name,
        "connectionId": caller.connection_id,
        "apiId": caller.api_id,
        **extra,
    }


def _with_request(headers: list[tuple[str, str]], query: list[tuple[str, str]]) -> dict[str, Any]:
    single_headers, multi_headers = _single_and_multi(headers)
    event: dict[str, Any] = {"headers": single_headers, "multiValueHeaders": multi_headers}
    if query:  # both query maps are absent when the URL has no query string
        single_query, multi_query = _single_and_multi(query)
        event["queryStringParameters"] = single_query
        event["multiValueQueryStringParameters"] = multi_query
    return event


def authorizer_event(
    method_arn: str,
    headers: list[tuple[str, str]],
    query: list[tuple[str, str]],
    stage_variables: dict[str, str],
    caller: Caller,
) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        **_with_request(headers, query),
        "stageVariables": dict(stage_variables),
        "requestContext": request_context(caller, "$connect", "CONNECT"),
    }


def _authorized(authorizer: dict[str, Any] | None) -> dict[str, Any]:
    return {"authorizer": authorizer} if authorizer is not None else {}


def connect_event(
    headers: list[tuple[str, str]],
    query: list[tuple[str, str]],
    caller: Caller,
    authorizer: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        **_with_request(headers, query),
        "requestContext": request_context(caller, "$connect", "CONNECT", **_authorized(authorizer)),
        "isBase64Encoded": False,
    }


def message_event(
    body: str,
    is_base64: bool,
    route_key: str,
    caller: Caller,
    authorizer: dict[str, Any] | None,
    request_id: str,
) -> dict[str, Any]:
    # Message events carry no headers; the body is the message text, as sent.
    context = request_context(
        caller,
        route_key,
        "MESSAGE",
        messageId=aws_id(),
        requestId=request_id,  # also in the error API Gateway sends if the route fails
        **_authorized(authorizer),
    )
    return {"requestContext": context, "body": body, "isBase64Encoded": is_base64}


def disconnect_event(
    status_code: int, reason: str, caller: Caller, authorizer: dict[str, Any] | None
) -> dict[str, Any]:
    headers = [
        ("Host", caller.domain_name),
        ("x-api-key", ""),
        ("X-Forwarded-For", ""),
        ("x-restapi", ""),
    ]
    single, multi = _single_and_multi(headers)
    context = request_context(
        caller,
        "$disconnect",
        "DISCONNECT",
        disconnectStatusCode=status_code,
        disconnectReason=reason or _DISCONNECT_REASONS.get(status_code, ""),
        **_authorized(authorizer),
    )
    return {
        "headers": single,
        "multiValueHeaders": multi,
        "requestContext": context,
        "isBase64Encoded": False,
    }
