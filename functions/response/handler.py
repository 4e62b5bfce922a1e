"""``$default``: what agents send: ``ready`` (answered with ``registered``), ``ping`` and
``response`` (the answer to a pending request).

A response is stored only if its request exists, is still pending and was sent to this very
connection, in one conditional write: no agent can answer another's request. Anything else is
rejected and logged, creates no item, and never raises out of the handler.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import events, protocol
from tunnel_shared.log import Invocation
from tunnel_shared.public_url import PublicUrl, PublicUrlError
from tunnel_shared.resources import agent_connections, connections_table, pending_table


def handler(event: Any, context: Any) -> dict[str, Any]:
    with Invocation("response", context) as log:
        try:
            connection_id = events.connection_id(event)
            message = protocol.parse_agent_message(event.get("body"))
        except (events.BadEvent, protocol.ProtocolError) as error:
            log.note(outcome="rejected", reason=str(error))
            return {"statusCode": 400}
        action = message["action"]
        log.note(action=action, connectionId=connection_id)
        try:
            if action == "ready":
                return _register(connection_id, log)
            if action == "response":
                return _store(connection_id, message, log)
            log.note(outcome="ok")
            return {"statusCode": 200}
        except (BotoCoreError, ClientError) as error:
            log.note(outcome="error", error=type(error).__name__)
            return {"statusCode": 500}


def _register(connection_id: str, log: Invocation) -> dict[str, Any]:
    # Consistent: $connect wrote the item a moment ago.
    item = (
        connections_table()
        .get_item(Key={"connectionId": connection_id}, ConsistentRead=True)
        .get("Item")
    )
    if not item or not isinstance(item.get("publicSubdomain"), str):
        log.note(outcome="rejected", reason="unknown connection")
        return {"statusCode": 404}
    subdomain = item["publicSubdomain"]
    try:
        url = PublicUrl(os.environ.get("PUBLIC_URL_FORMAT", "")).url(subdomain)
    except PublicUrlError as error:
        log.note(outcome="error", reason=str(error))
        return {"statusCode": 500}
    _post(connection_id, {"type": "registered", "subdomain": subdomain, "url": url})
    log.note(outcome="registered", subdomain=subdomain)
    return {"statusCode": 200}


def _store(connection_id: str, message: dict[str, Any], log: Invocation) -> dict[str, Any]:
    try:
        response = protocol.parse_response(message)
    except protocol.ProtocolError as error:
        log.note(outcome="rejected", reason=str(error))
        _reject(connection_id, str(error))
        return {"statusCode": 400}
    log.note(requestId=response.request_id, status=response.status)
    try:
        pending_table().update_item(
            Key={"requestId": response.request_id},
            UpdateExpression="SET #status = :answered, #response = :response",
            ConditionExpression=(
                "attribute_exists(requestId) AND #status = :pending AND connectionId = :me"
            ),
            ExpressionAttributeNames={"#status": "status", "#response": "response"},
            ExpressionAttributeValues={
                ":answered": "answered",
                ":pending": "pending",
                ":me": connection_id,
                ":response": _stored_form(response),
            },
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        log.note(outcome="rejected", reason="unknown, answered or foreign request")
        _reject(connection_id, f"no pending request {response.request_id} for this connection")
        return {"statusCode": 404}
    log.note(outcome="stored")
    return {"statusCode": 200}


def _stored_form(response: protocol.Response) -> dict[str, Any]:
    """The pending item's ``response``: the body inline, or the size of the one in S3."""
    stored: dict[str, Any] = {
        "status": response.status,
        "headers": [list(pair) for pair in response.headers],
    }
    if response.stored_bytes is None:
        stored["body"] = base64.b64encode(response.body).decode()
    else:
        stored["stored"] = response.stored_bytes
    return stored


def _reject(connection_id: str, reason: str) -> None:
    """Tell the agent why; it may be gone already, which changes nothing."""
    try:
        _post(connection_id, {"type": "rejected", "reason": reason[:200]})
    except (BotoCoreError, ClientError):
        pass


def _post(connection_id: str, message: dict[str, Any]) -> None:
    agent_connections().post_to_connection(
        ConnectionId=connection_id, Data=protocol.encode(message).encode()
    )
