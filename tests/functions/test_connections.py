"""Connect claims a subdomain atomically; reconnects keep it; disconnect releases it."""

from __future__ import annotations

import time
import uuid

from tunnel_shared import protocol, token_records, tokens
from tunnel_shared.connections import DRAIN_SECONDS, claim_key

from tests.functions.agents import connect, token
from tests.functions.events import authorizer_event, websocket_event


def test_connect_registers_the_connection_and_claims_the_subdomain(functions):
    connection_id, answer = connect(functions, "ana", "alpha")
    assert answer == {"statusCode": 200}
    item = functions.connections.get_item(Key={"connectionId": connection_id})["Item"]
    assert item["publicSubdomain"] == "alpha" and item["subject"] == "ana"
    assert int(item["ttl"]) > int(item["connectedAt"])
    claim = functions.connections.get_item(Key=claim_key("alpha"))["Item"]
    assert claim["owner"] == connection_id and claim["holder"] == "ana"
    assert claim["session"] != "session-of-the-tests-agent"  # its SHA-256, not the secret


def test_the_same_session_reconnecting_keeps_the_subdomain_and_tells_the_replaced(functions):
    first, _ = connect(functions, "bo", "bravo")
    second, answer = connect(functions, "bo", "bravo")
    assert answer == {"statusCode": 200}
    # Kept while it drains, marked replaced; the new one knows which it replaced.
    assert "replacedAt" in functions.connections.get_item(Key={"connectionId": first})["Item"]
    assert functions.connections.get_item(Key={"connectionId": second})["Item"]["replaced"] == first
    assert functions.connections.get_item(Key=claim_key("bravo"))["Item"]["owner"] == second
    assert functions.endpoint.messages(first) == [{"type": "replaced"}]


def test_a_replayed_live_token_is_refused_while_its_owner_is_connected(functions):
    leaked = token(functions, "cy", "charlie")
    owner, _ = connect(functions, "cy", "charlie", session="the-owners-own-session", issued=leaked)
    for session in ("an-attackers-session", None):
        intruder, answer = connect(functions, "cy", "charlie", session=session, issued=leaked)
        assert answer == {"statusCode": 409}
        assert "Item" not in functions.connections.get_item(Key={"connectionId": intruder})
    assert functions.connections.get_item(Key=claim_key("charlie"))["Item"]["owner"] == owner
    assert functions.endpoint.messages(owner) == []  # never told to go


def test_a_claim_whose_connection_is_gone_is_free_at_once(functions):
    # An agent restarted after a crash has a new session; its old connection is gone (410).
    crashed, _ = connect(functions, "di", "restart", session="session-before-the-crash")
    functions.endpoint.gone.add(crashed)
    restarted, answer = connect(functions, "di", "restart", session="session-after-the-crash")
    assert answer == {"statusCode": 200}
    assert functions.connections.get_item(Key=claim_key("restart"))["Item"]["owner"] == restarted


def test_a_malformed_session_is_refused(functions):
    _, answer = connect(functions, "ed", "echo", session="short")
    assert answer == {"statusCode": 400}


def test_connect_without_authorizer_context_is_refused(functions):
    answer = functions.invoke("connect", websocket_event("$connect", "nocontext=", authorizer={}))
    assert answer == {"statusCode": 403}
    assert "Item" not in functions.connections.get_item(Key={"connectionId": "nocontext="})


def test_disconnect_removes_the_connection_and_releases_the_claim(functions):
    connection_id, _ = connect(functions, "di", "delta")
    answer = functions.invoke("disconnect", websocket_event("$disconnect", connection_id))
    assert answer == {"statusCode": 200}
    assert "Item" not in functions.connections.get_item(Key={"connectionId": connection_id})
    assert "Item" not in functions.connections.get_item(Key=claim_key("delta"))
    # Free again: another holder may take it now.
    _, answer = connect(functions, "ed", "delta")
    assert answer == {"statusCode": 200}


def test_a_late_disconnect_does_not_release_a_claim_a_reconnect_owns(functions):
    first, _ = connect(functions, "fay", "echo")
    second, _ = connect(functions, "fay", "echo")
    functions.invoke("disconnect", websocket_event("$disconnect", first))
    assert functions.connections.get_item(Key=claim_key("echo"))["Item"]["owner"] == second


def test_a_token_revoked_after_the_authorizer_let_it_in_is_refused_by_connect(functions):
    # The agent reconnects while `tunnel token revoke` runs: the authorizer read the token
    # before the revocation, $connect runs after it. The claim is given back as it was, so
    # the revoke finds the connection that held it (and closes it).
    issued = token(functions, "gil", "golf")
    owner, _ = connect(functions, "gil", "golf", issued=issued)
    decision = functions.invoke("authorizer", authorizer_event(issued))
    assert decision["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    token_records.revoke(functions.tokens, tokens.read_claims(issued).token_id, int(time.time()))
    late = f"{uuid.uuid4().hex[:14]}="
    event = websocket_event("$connect", late, authorizer=decision["context"])
    event["queryStringParameters"] = {"session": "session-of-the-tests-agent"}
    assert functions.invoke("connect", event) == {"statusCode": 403}
    claim = functions.connections.get_item(Key=claim_key("golf"), ConsistentRead=True)["Item"]
    assert claim["owner"] == owner and claim["tokenId"] == tokens.read_claims(issued).token_id
    assert "Item" not in functions.connections.get_item(Key={"connectionId": late})
    assert functions.endpoint.messages(owner) == []  # not replaced by a refused connection


def test_a_first_connection_whose_token_was_revoked_meanwhile_leaves_no_claim(functions):
    issued = token(functions, "hana", "hotel")
    decision = functions.invoke("authorizer", authorizer_event(issued))
    token_records.revoke(functions.tokens, tokens.read_claims(issued).token_id, int(time.time()))
    late = f"{uuid.uuid4().hex[:14]}="
    event = websocket_event("$connect", late, authorizer=decision["context"])
    assert functions.invoke("connect", event) == {"statusCode": 403}
    assert "Item" not in functions.connections.get_item(Key=claim_key("hotel"))


def test_one_token_keeps_at_most_two_live_connections(functions):
    # An agent that reconnects again and again, ignoring `replaced`: each new connection
    # closes the one before the one it replaces (that one had its drain).
    issued = token(functions, "ike", "india")
    opened = [connect(functions, "ike", "india", issued=issued)[0] for _ in range(12)]
    closed = set(functions.endpoint.closed)
    assert set(opened[:-2]) <= closed
    assert not set(opened[-2:]) & closed
    claim = functions.connections.get_item(Key=claim_key("india"), ConsistentRead=True)["Item"]
    assert claim["owner"] == opened[-1]


def test_a_replaced_connection_that_speaks_after_its_drain_is_closed(functions):
    first, _ = connect(functions, "jo", "juliet")
    second, _ = connect(functions, "jo", "juliet")
    ping = protocol.ping_message()
    assert functions.invoke("response", websocket_event("$default", first, ping)) == {
        "statusCode": 200
    }
    assert first not in functions.endpoint.closed  # still draining: it may answer
    functions.connections.update_item(
        Key={"connectionId": first},
        UpdateExpression="SET replacedAt = :then",
        ExpressionAttributeValues={":then": int(time.time()) - DRAIN_SECONDS - 1},
    )
    functions.invoke("response", websocket_event("$default", first, ping))
    assert first in functions.endpoint.closed
    assert second not in functions.endpoint.closed
    # Closed without a word: a `closed` would stop the agent, whose newer connection is fine.
    assert functions.endpoint.messages(first) == [{"type": "replaced"}]
