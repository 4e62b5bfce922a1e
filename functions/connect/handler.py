"""``$connect``: registers an authorized agent's connection and claims its subdomain.

The claim is a conditional write on the subdomain's own item: it succeeds if the subdomain is
free, expired, or already held by the same token holder (a reconnect, whose stale connection is
then dropped). Another holder gets 409 while the claim is live. Nothing is posted to the
connection here: API Gateway answers 410 until ``$connect`` has returned.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import events
from tunnel_shared.connections import claim_key
from tunnel_shared.limits import MAX_CONNECTION_SECONDS
from tunnel_shared.log import Invocation
from tunnel_shared.resources import connections_table
from tunnel_shared.tokens import SUBDOMAIN

# A connection lives at most 2 h; its items outlive it a little, then TTL removes them.
TTL_SECONDS = MAX_CONNECTION_SECONDS + 600


def handler(event: Any, context: Any) -> dict[str, Any]:
    with Invocation("connect", context) as log:
        try:
            connection_id = events.connection_id(event)
        except events.BadEvent as error:
            log.note(outcome="rejected", reason=str(error))
            return {"statusCode": 400}
        granted = events.authorizer(event)
        subject, subdomain = granted.get("subject"), granted.get("subdomain")
        if not isinstance(subject, str) or not subject or not isinstance(subdomain, str):
            log.note(outcome="rejected", reason="no authorizer context")
            return {"statusCode": 403}
        if not SUBDOMAIN.match(subdomain):
            log.note(outcome="rejected", reason="bad subdomain")
            return {"statusCode": 403}
        log.note(connectionId=connection_id, subdomain=subdomain, subject=subject)
        now = int(time.time())
        try:
            previous = _claim(subdomain, subject, connection_id, now)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                log.note(outcome="error", error=error.response["Error"]["Code"])
                return {"statusCode": 500}
            log.note(outcome="refused", reason="subdomain held by another agent")
            return {"statusCode": 409}
        except BotoCoreError as error:
            log.note(outcome="error", error=type(error).__name__)
            return {"statusCode": 500}
        if previous and previous != connection_id:
            connections_table().delete_item(Key={"connectionId": previous})
            log.note(dropped=previous)
        connections_table().put_item(
            Item={
                "connectionId": connection_id,
                "publicSubdomain": subdomain,
                "subject": subject,
                "connectedAt": now,
                "ttl": now + TTL_SECONDS,
            }
        )
        log.note(outcome="connected")
        return {"statusCode": 200}


def _claim(subdomain: str, subject: str, connection_id: str, now: int) -> str | None:
    """Claim the subdomain for this connection; the connection that held it before, if any."""
    answer = connections_table().put_item(
        Item={
            **claim_key(subdomain),
            "holder": subject,
            "owner": connection_id,
            "ttl": now + TTL_SECONDS,
        },
        ConditionExpression="attribute_not_exists(connectionId) OR holder = :holder OR #ttl < :now",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":holder": subject, ":now": now},
        ReturnValues="ALL_OLD",
    )
    return answer.get("Attributes", {}).get("owner")
