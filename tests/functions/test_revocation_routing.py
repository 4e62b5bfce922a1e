"""A revoked token's tunnel routes nothing, whatever its agent does: forwarding reads the
claim's token record (at most every REVOCATION_CHECK_SECONDS per container), answers 403 and
closes the connection, after telling the agent why."""

from __future__ import annotations

import time

from tunnel_shared import token_records, tokens

from tests.functions.agents import connect, token
from tests.functions.events import http_event
from tests.functions.test_tunnel_round_trip import answer_requests


def revoke(functions, issued: str) -> None:
    token_id = tokens.read_claims(issued).token_id
    assert token_records.revoke(functions.tokens, token_id, int(time.time())) is not None


def test_a_revoked_tokens_tunnel_is_refused_and_its_connection_closed(functions):
    issued = token(functions, "revoked", "revoked-one")
    connection_id, answer = connect(functions, "revoked", "revoked-one", issued=issued)
    assert answer == {"statusCode": 200}
    revoke(functions, issued)

    answer = functions.invoke("forwarding", http_event("revoked-one"))
    assert answer["statusCode"] == 403
    assert "revoked" in answer["body"]
    assert issued not in answer["body"]
    assert not any(m["type"] == "request" for m in functions.endpoint.messages(connection_id))
    closed = functions.endpoint.messages(connection_id)[-1]
    assert closed["type"] == "closed" and "revoked" in closed["reason"]
    assert connection_id in functions.endpoint.closed


def test_a_revocation_is_seen_once_the_cached_answer_is_old(functions, monkeypatch):
    forwarding = functions.modules["forwarding"]
    issued = token(functions, "cached", "cached-one")
    connection_id, _ = connect(functions, "cached", "cached-one", issued=issued)
    agent = answer_requests(functions, connection_id)
    assert functions.invoke("forwarding", http_event("cached-one"))["statusCode"] == 200
    agent.join()

    revoke(functions, issued)
    # Within the cache's seconds the container routes on what it read; after them, it rereads.
    monkeypatch.setattr(forwarding, "REVOCATION_CHECK_SECONDS", 0.0)
    assert functions.invoke("forwarding", http_event("cached-one"))["statusCode"] == 403
    assert connection_id in functions.endpoint.closed


def test_an_unrevoked_token_is_read_once_per_cache_period(functions):
    forwarding = functions.modules["forwarding"]
    issued = token(functions, "steady", "steady-one")
    connection_id, _ = connect(functions, "steady", "steady-one", issued=issued)
    agent = answer_requests(functions, connection_id, count=2)
    for _ in range(2):
        assert functions.invoke("forwarding", http_event("steady-one"))["statusCode"] == 200
    agent.join()
    revoked, read_at = forwarding._revocations[tokens.read_claims(issued).token_id]
    assert revoked is False and read_at > 0
