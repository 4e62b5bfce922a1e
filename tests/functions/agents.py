"""Helpers that play an agent: connect through the real authorizer and connect functions."""

from __future__ import annotations

import uuid

from tunnel_shared import tokens

from tests.functions.conftest import Functions
from tests.functions.events import authorizer_event, websocket_event


def token(functions: Functions, subject: str, subdomain: str, ttl: int = 600) -> str:
    return tokens.issue(functions.signing_key, subject, subdomain, ttl)


def connect(functions: Functions, subject: str, subdomain: str) -> tuple[str, dict]:
    """Authorize and connect; the new connection id and the $connect answer."""
    decision = functions.invoke(
        "authorizer", authorizer_event(token(functions, subject, subdomain))
    )
    assert decision["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    granted = {**decision["context"], "principalId": decision["principalId"]}
    connection_id = f"{uuid.uuid4().hex[:14]}="
    answer = functions.invoke(
        "connect", websocket_event("$connect", connection_id, authorizer=granted)
    )
    return connection_id, answer
