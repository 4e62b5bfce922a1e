"""Connect claims a subdomain atomically; reconnects keep it; disconnect releases it."""

from __future__ import annotations

from tunnel_shared.connections import claim_key

from tests.functions.agents import connect
from tests.functions.events import websocket_event


def test_connect_registers_the_connection_and_claims_the_subdomain(functions):
    connection_id, answer = connect(functions, "ana", "alpha")
    assert answer == {"statusCode": 200}
    item = functions.connections.get_item(Key={"connectionId": connection_id})["Item"]
    assert item["publicSubdomain"] == "alpha" and item["subject"] == "ana"
    assert int(item["ttl"]) > int(item["connectedAt"])
    claim = functions.connections.get_item(Key=claim_key("alpha"))["Item"]
    assert claim["owner"] == connection_id and claim["holder"] == "ana"
    assert "publicSubdomain" not in claim  # claims stay out of the subdomain index


def test_the_same_holder_reconnecting_keeps_the_subdomain_and_drops_the_stale_connection(functions):
    first, _ = connect(functions, "bo", "bravo")
    second, answer = connect(functions, "bo", "bravo")
    assert answer == {"statusCode": 200}
    assert "Item" not in functions.connections.get_item(Key={"connectionId": first})
    assert functions.connections.get_item(Key=claim_key("bravo"))["Item"]["owner"] == second


def test_another_holder_cannot_take_a_live_subdomain(functions):
    owner, _ = connect(functions, "cy", "charlie")
    intruder, answer = connect(functions, "mallory", "charlie")
    assert answer == {"statusCode": 409}
    assert "Item" not in functions.connections.get_item(Key={"connectionId": intruder})
    assert functions.connections.get_item(Key=claim_key("charlie"))["Item"]["owner"] == owner


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
