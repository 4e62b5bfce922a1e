"""The tokens table: one item per issued token, by its id (``jti``), so that one token can be
revoked without rotating the signing key (which would end every token).

``tunnel token`` records each token it issues; ``tunnel token revoke`` sets ``revokedAt``. The
``$connect`` authorizer lets in only a recorded, unrevoked token, and ``$connect`` checks again
once it holds the subdomain's claim; both read the one item by key, consistently (no scan on
any request path). Items expire a day after their token does. The token itself is never stored:
only what it says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tunnel_shared.tokens import Claims

KEEP_AFTER_EXPIRY_SECONDS = 86400


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    subdomain: str
    subject: str
    expires: int
    issued_at: int
    revoked_at: int | None = None

    @classmethod
    def of(cls, item: dict[str, Any]) -> TokenRecord:
        revoked = item.get("revokedAt")
        return cls(
            str(item["tokenId"]),
            str(item["subdomain"]),
            str(item["subject"]),
            int(item["expires"]),
            int(item["issuedAt"]),
            int(revoked) if revoked is not None else None,
        )


def record(table: Any, claims: Claims) -> None:
    table.put_item(
        Item={
            "tokenId": claims.token_id,
            "subdomain": claims.subdomain,
            "subject": claims.subject,
            "expires": claims.expires,
            "issuedAt": claims.issued_at,
            "ttl": claims.expires + KEEP_AFTER_EXPIRY_SECONDS,
        },
        ConditionExpression="attribute_not_exists(tokenId)",
    )


def find(table: Any, token_id: str) -> TokenRecord | None:
    """The token's record, read consistently: an eventually consistent read can miss a token
    recorded or revoked a moment ago (refusing a fresh token, letting in a revoked one)."""
    item = table.get_item(Key={"tokenId": token_id}, ConsistentRead=True).get("Item")
    return TokenRecord.of(item) if item else None


def revoke(table: Any, token_id: str, now: int) -> TokenRecord | None:
    """Mark the token revoked; its record, or None if no such token was issued."""
    try:
        item = table.update_item(
            Key={"tokenId": token_id},
            UpdateExpression="SET revokedAt = if_not_exists(revokedAt, :now)",
            ConditionExpression="attribute_exists(tokenId)",
            ExpressionAttributeValues={":now": now},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return None
    return TokenRecord.of(item)


def live(table: Any, now: int) -> list[TokenRecord]:
    """Every recorded token neither revoked nor expired, soonest to expire first. A scan: for
    the operator's ``tunnel token list``, never on a request's path."""
    records: list[TokenRecord] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        records += [TokenRecord.of(item) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    alive = [r for r in records if r.revoked_at is None and r.expires > now]
    return sorted(alive, key=lambda r: (r.expires, r.token_id))
