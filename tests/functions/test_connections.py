"""Connect claims a subdomain atomically; reconnects keep it; disconnect releases it."""

from __future__ import annotations

from tunnel_shared.connections import claim_key

from tests.functions.agents import connect, token
from tests.functions.events import websocket_event


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
    assert "Item" not in functions.connections.get_item(Key={"connectionId": first})
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
