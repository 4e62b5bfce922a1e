"""The ``$connect`` authorizer: lets in an agent whose token is signed, unexpired and well-formed.

It answers with an IAM policy for the connect route and passes ``subject`` and ``subdomain`` to
the route as authorizer context. The signing key is read from Secrets Manager once and cached
across invocations for a few minutes, so a rotated key takes effect without a redeploy.
"""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import tokens
from tunnel_shared.log import Invocation

KEY_CACHE_SECONDS = 300
_cached_key: tuple[str, float] | None = None


def handler(event: Any, context: Any) -> dict[str, Any]:
    with Invocation("authorizer", context) as log:
        method_arn = event.get("methodArn") if isinstance(event, dict) else None
        if not isinstance(method_arn, str) or not method_arn.startswith("arn:"):
            log.note(outcome="deny", reason="no methodArn")
            return _policy("anonymous", "Deny", "*")
        query = event.get("queryStringParameters") or {}
        token = query.get("token") if isinstance(query, dict) else None
        try:
            claims = tokens.verify(_signing_key(), token)
        except tokens.TokenError as error:
            log.note(outcome="deny", reason=str(error))
            return _policy("anonymous", "Deny", method_arn)
        except (BotoCoreError, ClientError) as error:
            log.note(outcome="deny", reason="signing key unavailable", error=type(error).__name__)
            return _policy("anonymous", "Deny", method_arn)
        log.note(outcome="allow", subject=claims.subject, subdomain=claims.subdomain)
        return _policy(
            claims.subject,
            "Allow",
            method_arn,
            {"subject": claims.subject, "subdomain": claims.subdomain},
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
