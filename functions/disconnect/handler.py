"""``$disconnect``: removes the connection and releases its subdomain, if it still holds it.

Best effort: API Gateway may never send ``$disconnect``, so readers also ignore expired items.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import events
from tunnel_shared.connections import claim_key
from tunnel_shared.log import Invocation
from tunnel_shared.resources import connections_table


def handler(event: Any, context: Any) -> dict[str, Any]:
    with Invocation("disconnect", context) as log:
        try:
            connection_id = events.connection_id(event)
        except events.BadEvent as error:
            log.note(outcome="rejected", reason=str(error))
            return {"statusCode": 400}
        log.note(connectionId=connection_id)
        try:
            removed = (
                connections_table()
                .delete_item(Key={"connectionId": connection_id}, ReturnValues="ALL_OLD")
                .get("Attributes", {})
            )
            subdomain = removed.get("publicSubdomain")
            if isinstance(subdomain, str):
                _release(subdomain, connection_id)
                log.note(subdomain=subdomain)
        except (BotoCoreError, ClientError) as error:
            log.note(outcome="error", error=type(error).__name__)
            return {"statusCode": 500}
        log.note(outcome="disconnected")
        return {"statusCode": 200}


def _release(subdomain: str, connection_id: str) -> None:
    try:
        connections_table().delete_item(
            Key=claim_key(subdomain),
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":me": connection_id},
        )
    except ClientError as error:
        # A reconnect already owns the claim: it is not ours to release.
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
