"""``$connect``: registers an authorized agent's connection and claims its subdomain.

The claim is the subdomain's own item, ``claim#<subdomain>``, written conditionally: it names
the one connection (``owner``) that traffic for the subdomain goes to. A connection gets it
when it is free (never claimed, past its ``ttl``, or its token has expired), or when it comes
from the same agent session: the agent sends a random per-run secret as ``?session=`` on every
connect, and the claim keeps its SHA-256, so a reconnect after a dropped network, or the planned
one before API Gateway's 2-hour cap, keeps the subdomain. The connection it replaces is told
(``replaced``); that agent closes it once its requests in flight are answered.

Anyone else, even with a copy of the same token, is refused with 409 while the owner is live. A
claim whose owner is gone is free: the owner is looked up with ``GetConnection``, and a gone
one (410) is replaced at once, compare-and-swap on the owner, not after a TTL.

Nothing is posted to the new connection here: API Gateway answers 410 until ``$connect`` has
returned.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import events, protocol
from tunnel_shared.connections import claim_key
from tunnel_shared.limits import MAX_CONNECTION_SECONDS
from tunnel_shared.log import Invocation
from tunnel_shared.resources import agent_connections, connections_table
from tunnel_shared.tokens import SUBDOMAIN, TOKEN_ID

# A connection lives at most 2 h; its items outlive it a little, then TTL removes them.
TTL_SECONDS = MAX_CONNECTION_SECONDS + 600
SESSION = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


class Refused(Exception):
    """The connection is refused; ``status`` is the $connect answer, the message the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def handler(event: Any, context: Any) -> dict[str, Any]:
    with Invocation("connect", context) as log:
        try:
            connection_id = events.connection_id(event)
            grant = _grant(event)
            session = _session(event)
        except events.BadEvent as error:
            log.note(outcome="rejected", reason=str(error))
            return {"statusCode": 400}
        except Refused as refused:
            log.note(outcome="rejected", reason=str(refused))
            return {"statusCode": refused.status}
        subject, subdomain, token_id, expires = grant
        log.note(connectionId=connection_id, subdomain=subdomain, subject=subject)
        now = int(time.time())
        try:
            previous, same_session = _claim(subdomain, connection_id, grant, session, now)
            if previous and previous != connection_id:
                connections_table().delete_item(Key={"connectionId": previous})
                log.note(replaced=previous)
                if same_session:
                    _tell(previous, {"type": "replaced"})
            connections_table().put_item(
                Item={
                    "connectionId": connection_id,
                    "publicSubdomain": subdomain,
                    "subject": subject,
                    "tokenId": token_id,
                    "expires": expires,
                    "connectedAt": now,
                    "ttl": now + TTL_SECONDS,
                }
            )
        except Refused as refused:
            log.note(outcome="refused", reason=str(refused))
            return {"statusCode": refused.status}
        except (BotoCoreError, ClientError) as error:
            log.note(outcome="error", error=type(error).__name__)
            return {"statusCode": 500}
        log.note(outcome="connected")
        return {"statusCode": 200}


def _grant(event: Any) -> tuple[str, str, str, int]:
    """What the authorizer let in: subject, subdomain, token id and expiry."""
    granted = events.authorizer(event)
    subject, subdomain = granted.get("subject"), granted.get("subdomain")
    token_id, expires = granted.get("tokenId"), granted.get("expires")
    if not isinstance(subject, str) or not subject or not isinstance(subdomain, str):
        raise Refused(403, "no authorizer context")
    if not SUBDOMAIN.match(subdomain):
        raise Refused(403, "bad subdomain")
    if not isinstance(token_id, str) or not TOKEN_ID.match(token_id):
        raise Refused(403, "no token id")
    try:
        expiry = int(expires)  # API Gateway may pass context numbers on as strings
    except (TypeError, ValueError):
        raise Refused(403, "no token expiry") from None
    return subject, subdomain, token_id, expiry


def _session(event: Any) -> str | None:
    """The SHA-256 of the agent's ``?session=`` secret, or None when it sent none."""
    query = event.get("queryStringParameters") or {}
    secret = query.get("session") if isinstance(query, dict) else None
    if secret is None:
        return None
    if not isinstance(secret, str) or not SESSION.match(secret):
        raise Refused(400, "malformed session")
    return hashlib.sha256(secret.encode()).hexdigest()


def _claim(
    subdomain: str,
    connection_id: str,
    grant: tuple[str, str, str, int],
    session: str | None,
    now: int,
) -> tuple[str | None, bool]:
    """Take the subdomain's claim for this connection: the connection it had, and whether that
    one was this agent session's. Refused (409) while another session's owner is live."""
    subject, _, token_id, expires = grant
    item: dict[str, Any] = {
        **claim_key(subdomain),
        "holder": subject,
        "owner": connection_id,
        "tokenId": token_id,
        "expires": expires,
        "ttl": now + TTL_SECONDS,
    }
    if session:
        item["session"] = session
    free = "attribute_not_exists(connectionId) OR #ttl < :now OR #expires < :now"
    values: dict[str, Any] = {":now": now}
    if session:
        free += " OR #session = :session"
        values[":session"] = session
    try:
        old = _put_claim(item, free, values)
        return old.get("owner"), bool(session) and old.get("session") == session
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    held = (
        connections_table().get_item(Key=claim_key(subdomain), ConsistentRead=True).get("Item")
    ) or {}
    owner = held.get("owner")
    if isinstance(owner, str) and _alive(owner):
        raise Refused(409, "subdomain held by a live connection of another session")
    try:  # the owner is gone: take the claim, unless someone else just did
        old = _put_claim(item, "#owner = :owner", {":owner": owner})
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise Refused(409, "subdomain claimed meanwhile") from None
    return old.get("owner"), False


def _put_claim(item: dict[str, Any], condition: str, values: dict[str, Any]) -> dict[str, Any]:
    names = {
        "#ttl": "ttl",
        "#expires": "expires",
        "#session": "session",
        "#owner": "owner",
    }
    used = {name: value for name, value in names.items() if name in condition}
    return (
        connections_table()
        .put_item(
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeNames=used,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
        )
        .get("Attributes", {})
    )


def _alive(connection_id: str) -> bool:
    """Does API Gateway still have this connection? (GetConnection: 410 when it has not.)"""
    try:
        agent_connections().get_connection(ConnectionId=connection_id)
    except agent_connections().exceptions.GoneException:
        return False
    return True


def _tell(connection_id: str, message: dict[str, Any]) -> None:
    try:
        agent_connections().post_to_connection(
            ConnectionId=connection_id, Data=protocol.encode(message).encode()
        )
    except (BotoCoreError, ClientError):
        pass  # gone meanwhile: nothing to tell
