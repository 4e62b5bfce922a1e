"""API Gateway events as they reach the functions (field notes, section 4)."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

API_ID = "testapi"


def authorizer_event(token: str | None) -> dict[str, Any]:
    query = {"token": token} if token is not None else {}
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/dev/$connect",
        "headers": {"Host": "127.0.0.1"},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "connectionId": "Zm9vYmFy=",
            "apiId": API_ID,
            "stage": "dev",
        },
    }


def websocket_event(
    route: str, connection_id: str, body: str | None = None, authorizer: dict | None = None
) -> dict[str, Any]:
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "connectionId": connection_id,
            "messageId": uuid.uuid4().hex[:12] if event_type == "MESSAGE" else None,
            "apiId": API_ID,
            "stage": "dev",
            "domainName": "127.0.0.1",
            "requestTimeEpoch": int(time.time() * 1000),
            "connectedAt": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "isBase64Encoded": False,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if body is not None:
        event["body"] = body
    return event


def http_event(
    subdomain: str,
    method: str = "GET",
    raw_path: str = "/",
    raw_query: str = "",
    headers: dict[str, str] | None = None,
    cookies: list[str] | None = None,
    body: bytes = b"",
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": {"host": f"{subdomain}.tunnel.test", **(headers or {})},
        "requestContext": {
            "apiId": "httpapi",
            "domainName": f"{subdomain}.tunnel.test",
            "domainPrefix": subdomain,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:03:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": bool(body),
    }
    if cookies:
        event["cookies"] = cookies
    if body:
        event["body"] = base64.b64encode(body).decode()
    return event
