"""``$connect``: registers an authorized agent's connection and claims its subdomain.

The claim is the subdomain's own item, ``claim#<subdomain>``, written conditionally: it names
the one connection (``owner``) that traffic for the subdomain goes to. A connection gets it
when it is free (never claimed, past its ``ttl``, or its token has expired), or when it comes
from the same agent session: the agent sends a random per-run secret as ``?session=`` on every
connect, and the claim keeps its SHA-256, so a reconnect after a dropped network, or the planned
one before API Gateway's 2-hour cap, keeps the subdomain. The connection it replaces is told
(``replaced``); that agent closes it once its requests in flight are answered, and the server
closes it after a short drain (tunnel_shared.connections): at most two connections per claim
are live, the owner and the one draining; the one before those is closed here.

Anyone else, even with a copy of the same token, is refused with 409 while the owner is live. A
claim whose owner is gone is free: the owner is looked up with ``GetConnection``, and a gone
one (410) is replaced at once, compare-and-swap on the owner, not after a TTL.

Once it holds the claim, connect reads the token's record again, consistently: a revocation
that the authorizer's read came before is seen here, and the claim is given back (restored to
what it replaced) and the connection refused. Either this read sees the revocation, or the
claim was written before it and ``tunnel token revoke`` (which reads the claim after revoking)
finds this connection and closes it.

Nothing is posted to the new connection here: API Gateway answers 410 until ``$connect`` has
returned.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import connections, events, protocol, token_records
from tunnel_shared.connections import TTL_SECONDS, claim_key
from tunnel_shared.log import Invocation
from tunnel_shared.resources import agent_connections, connections_table, tokens_table
from tunnel_shared.tokens import SUBDOMAIN, TOKEN_ID

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
            previous, same_session, replaced_claim = _claim(
                subdomain, connection_id, grant, session, now
            )
            if _revoked(token_id, log):
                _give_back(subdomain, connection_id, replaced_claim)
                raise Refused(403, "token revoked meanwhile")
            replaced = None
            if previous and previous != connection_id:
                log.note(replaced=previous)
                if same_session:
                    replaced = previous
                    _retire(previous, now, log)
                else:  # gone (GetConnection said 410): nothing to drain
                    connections_table().delete_item(Key=connections.connection_key(previous))
            fields: dict[str, Any] = {
                "publicSubdomain": subdomain,
                "subject": subject,
                "tokenId": token_id,
                "expires": expires,
                "connectedAt": now,
            }
            if replaced:
                fields["replaced"] = replaced
            if connections.register(connections_table(), connection_id, fields, now) and replaced:
                # Replaced itself before it was registered: it is the one draining now, so
                # the one it replaced is the third.
                _close(replaced, log)
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
) -> tuple[str | None, bool, dict[str, Any]]:
    """Take the subdomain's claim for this connection: the connection it had, whether that one
    was this agent session's, and the claim item it replaced ({} if none). Refused (409) while
    another session's owner is live."""
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
        return old.get("owner"), bool(session) and old.get("session") == session, old
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
    return old.get("owner"), False, old


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


def _revoked(token_id: str, log: Invocation) -> bool:
    """Is the token revoked (or its record gone) now? A consistent read (module docstring)."""
    record = token_records.find(tokens_table(), token_id)
    return record is None or record.revoked_at is not None


def _give_back(subdomain: str, connection_id: str, replaced_claim: dict[str, Any]) -> None:
    """Undo this connection's claim: restore the item it replaced, or delete it if there was
    none; unless another connection took the claim meanwhile (then it is not ours)."""
    condition = {
        "ConditionExpression": "#owner = :me",
        "ExpressionAttributeNames": {"#owner": "owner"},
        "ExpressionAttributeValues": {":me": connection_id},
    }
    try:
        if replaced_claim:
            connections_table().put_item(Item=replaced_claim, **condition)
        else:
            connections_table().delete_item(Key=claim_key(subdomain), **condition)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _retire(previous: str, now: int, log: Invocation) -> None:
    """The same session's previous connection drains: mark it replaced and tell it; close the
    one it had replaced (at most two live per claim)."""
    older = connections.mark_replaced(connections_table(), previous, now)
    _tell(previous, protocol.replaced_message())
    if older:
        _close(older, log)


def _close(connection_id: str, log: Invocation) -> None:
    """Close a connection the server no longer keeps; gone already is as good."""
    try:
        agent_connections().delete_connection(ConnectionId=connection_id)
        log.note(closed=connection_id)
    except (BotoCoreError, ClientError):
        pass  # gone (410), or not ours to close: its drain or idle timeout ends it


def _tell(connection_id: str, message: str) -> None:
    try:
        agent_connections().post_to_connection(ConnectionId=connection_id, Data=message.encode())
    except (BotoCoreError, ClientError):
        pass  # gone meanwhile: nothing to tell
