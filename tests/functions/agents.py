"""Helpers that play an agent: connect through the real authorizer and connect functions."""

from __future__ import annotations

import uuid

from tunnel_shared import token_records, tokens

from tests.functions.conftest import Functions
from tests.functions.events import authorizer_event, websocket_event


def token(functions: Functions, subject: str, subdomain: str, ttl: int = 600) -> str:
    """A token issued and recorded, as `tunnel token` does."""
    issued = tokens.issue(functions.signing_key, subject, subdomain, ttl)
    token_records.record(functions.tokens, tokens.read_claims(issued))
    return issued


def connect(
    functions: Functions,
    subject: str,
    subdomain: str,
    session: str | None = "session-of-the-tests-agent",
    issued: str | None = None,
) -> tuple[str, dict]:
    """Authorize and connect (as one agent session unless told otherwise); the new connection
    id and the $connect answer."""
    decision = functions.invoke(
        "authorizer", authorizer_event(issued or token(functions, subject, subdomain))
    )
    assert decision["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    granted = {**decision["context"], "principalId": decision["principalId"]}
    connection_id = f"{uuid.uuid4().hex[:14]}="
    event = websocket_event("$connect", connection_id, authorizer=granted)
    if session is not None:
        event["queryStringParameters"] = {"session": session}
    answer = functions.invoke("connect", event)
    return connection_id, answer
