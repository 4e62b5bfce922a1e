"""The connections table: one item per agent connection, and one claim item per subdomain.

Connection items are keyed by API Gateway's connection id and carry ``publicSubdomain``,
``tokenId``, ``replaced`` (the connection of the same agent session this one replaced, if any)
and, once a newer connection replaced this one, ``replacedAt``. A subdomain's claim is a
separate item, keyed ``claim#<subdomain>`` and written conditionally: it names the one
connection (``owner``) traffic goes to. Items expire through the ``ttl`` attribute;
``$disconnect`` may never come, so readers also ignore items whose ``ttl`` has passed.

Two bounds per connection, kept on its item:

- **At most two live connections per claim**: the owner and the one it replaced, draining its
  requests in flight. When a third arrives, the oldest is closed (``mark_replaced`` names it).
  A replaced connection is also closed when it sends anything after ``DRAIN_SECONDS``; one
  that sends nothing meets API Gateway's 10-minute idle timeout.
- **Messages that answer no request** (``ready``, pings, rejected or unreadable messages) are
  limited per connection (``count_unanswered``): a burst of ``MESSAGE_BURST``, then one per
  ``MESSAGE_INTERVAL_SECONDS``. A connection over it is closed. Responses to real requests are
  bounded by the requests and are not counted: they cost no extra operation.
"""

from __future__ import annotations

import enum
from typing import Any

from botocore.exceptions import ClientError

from tunnel_shared.limits import HTTP_API_TIMEOUT_SECONDS, MAX_CONNECTION_SECONDS

CLAIM_PREFIX = "claim#"
# A connection lives at most 2 h; its items outlive it a little, then TTL removes them.
TTL_SECONDS = MAX_CONNECTION_SECONDS + 600
# A request sent to a connection before it was replaced is waited for at most the HTTP API's
# timeout; after that nothing the replaced connection sends answers anything.
DRAIN_SECONDS = HTTP_API_TIMEOUT_SECONDS
# The agent pings every 240 s (tunnel_cli.agent.DEFAULT_HEARTBEAT_SECONDS) and sends one
# ``ready`` per connection: far inside one message a minute, with room for a burst of rejects.
MESSAGE_INTERVAL_SECONDS = 60
MESSAGE_BURST = 10


class Verdict(enum.Enum):
    """What ``count_unanswered`` decided for a message."""

    OK = "ok"
    OVER_RATE = "over the message rate"
    DRAINED = "replaced, and its drain is over"
    UNKNOWN = "no such connection"


def claim_key(subdomain: str) -> dict[str, str]:
    return {"connectionId": f"{CLAIM_PREFIX}{subdomain}"}


def connection_key(connection_id: str) -> dict[str, str]:
    return {"connectionId": connection_id}


def mark_replaced(table: Any, connection_id: str, now: int) -> str | None:
    """Mark ``connection_id`` replaced (now); the connection it had itself replaced, which
    is to be closed (the third of a chain). Written whether or not its item exists yet: a
    connection still in its own ``$connect`` then finds itself replaced (``register``)."""
    old = table.update_item(
        Key=connection_key(connection_id),
        UpdateExpression="SET replacedAt = if_not_exists(replacedAt, :now), "
        "#ttl = if_not_exists(#ttl, :ttl)",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":now": now, ":ttl": now + TTL_SECONDS},
        ReturnValues="ALL_OLD",
    ).get("Attributes", {})
    older = old.get("replaced")
    return older if isinstance(older, str) and "replacedAt" not in old else None


def register(table: Any, connection_id: str, fields: dict[str, Any], now: int) -> bool:
    """Write the connection's item (merging with a ``replacedAt`` a newer connection may have
    set meanwhile); whether it was replaced before its ``$connect`` finished."""
    values = {**fields, "ttl": now + TTL_SECONDS}
    names = {f"#{index}": name for index, name in enumerate(values)}
    old = table.update_item(
        Key=connection_key(connection_id),
        UpdateExpression="SET " + ", ".join(f"#{index} = :{index}" for index in range(len(names))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={
            f":{index}": value for index, value in enumerate(values.values())
        },
        ReturnValues="ALL_OLD",
    ).get("Attributes", {})
    return "replacedAt" in old


def count_unanswered(table: Any, connection_id: str, now: int) -> tuple[Verdict, dict[str, Any]]:
    """Count one message that answers no request against the connection's allowance (GCRA:
    the item's ``tat`` is when the allowance is next whole); the verdict, and the item as
    updated (empty unless OK).

    One conditional UpdateItem while the connection sends less than one such message per
    interval (an idle allowance restarts at ``now``); two when it is within a burst; the
    condition also refuses a connection whose item is gone or whose drain is over."""
    alive = (
        "attribute_exists(connectionId) AND "
        "(attribute_not_exists(replacedAt) OR replacedAt > :drained)"
    )
    attempts = (
        # Idle: the allowance is whole again; this message starts a new burst.
        ("SET tat = :next", "attribute_not_exists(tat) OR tat < :now", ":next"),
        # Within a burst: one more interval, while the burst is not used up.
        ("SET tat = tat + :interval", "tat <= :limit", ":interval"),
    )
    for update, condition, value in attempts:
        values = {
            ":drained": now - DRAIN_SECONDS,
            ":now": now,
            ":next": now + MESSAGE_INTERVAL_SECONDS,
            ":interval": MESSAGE_INTERVAL_SECONDS,
            ":limit": now + (MESSAGE_BURST - 1) * MESSAGE_INTERVAL_SECONDS,
        }
        used = (":drained", value, *(k for k in (":now", ":limit") if k in condition))
        try:
            item = table.update_item(
                Key=connection_key(connection_id),
                UpdateExpression=update,
                ConditionExpression=f"{alive} AND ({condition})",
                ExpressionAttributeValues={k: values[k] for k in used},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
            return Verdict.OK, item
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = error.response.get("Item")  # DynamoDB's own JSON: the resource does not parse it
        if not old:
            return Verdict.UNKNOWN, {}
        replaced_at = old.get("replacedAt", {}).get("N")
        if replaced_at is not None and int(replaced_at) <= now - DRAIN_SECONDS:
            return Verdict.DRAINED, {}
    return Verdict.OVER_RATE, {}
