"""The ``$connect`` authorizer: lets in an agent whose token is signed, unexpired, well-formed,
recorded and not revoked (tunnel_shared.token_records: one read by key).

It answers with an IAM policy for the connect route and passes ``subject``, ``subdomain``,
``tokenId`` and ``expires`` to the route as authorizer context. It never raises: any input that
is not a good token, and any failure, is a plain Deny (a raise would be an authorizer error,
and trip the errors alarm, for whoever sends junk). The signing key is read from Secrets
Manager once and cached across invocations for a few minutes, so a rotated key takes effect
without a redeploy.
"""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import token_records, tokens
from tunnel_shared.log import Invocation
from tunnel_shared.resources import tokens_table

KEY_CACHE_SECONDS = 300
_cached_key: tuple[str, float] | None = None


def handler(event: Any, context: Any) -> dict[str, Any]:
    with Invocation("authorizer", context) as log:
        method_arn = event.get("methodArn") if isinstance(event, dict) else None
        if not isinstance(method_arn, str) or not method_arn.startswith("arn:"):
            log.note(outcome="deny", reason="no methodArn")
            return _policy("anonymous", "Deny", "*")
        try:
            return _decide(event, method_arn, log)
        except Exception as error:  # noqa: BLE001 - a Deny, never an authorizer error
            log.note(outcome="deny", reason="unexpected failure", error=type(error).__name__)
            return _policy("anonymous", "Deny", method_arn)


def _decide(event: dict[str, Any], method_arn: str, log: Invocation) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    token = query.get("token") if isinstance(query, dict) else None
    try:
        claims = tokens.verify(_signing_key(), token)
        recorded = token_records.find(tokens_table(), claims.token_id)
    except tokens.TokenError as error:
        log.note(outcome="deny", reason=str(error))
        return _policy("anonymous", "Deny", method_arn)
    except (BotoCoreError, ClientError) as error:
        log.note(outcome="deny", reason="key or tokens unavailable", error=type(error).__name__)
        return _policy("anonymous", "Deny", method_arn)
    if recorded is None or recorded.revoked_at is not None:
        reason = "unknown token" if recorded is None else "revoked token"
        log.note(outcome="deny", reason=reason, tokenId=claims.token_id)
        return _policy("anonymous", "Deny", method_arn)
    log.note(
        outcome="allow",
        subject=claims.subject,
        subdomain=claims.subdomain,
        tokenId=claims.token_id,
    )
    return _policy(
        claims.subject,
        "Allow",
        method_arn,
        {
            "subject": claims.subject,
            "subdomain": claims.subdomain,
            "tokenId": claims.token_id,
            "expires": claims.expires,
        },
    )


def _signing_key() -> str:
    global _cached_key
    now = time.monotonic()
    if _cached_key is None or now - _cached_key[1] > KEY_CACHE_SECONDS:
        secrets = boto3.client("secretsmanager")
        value = secrets.get_secret_value(SecretId=os.environ["SIGNING_KEY_SECRET_ARN"])
        _cached_key = (value["SecretString"], now)
    return _cached_key[0]


def _policy(
    principal: str, effect: str, resource: str, context: dict[str, str] | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context:
        answer["context"] = context
    return answer
