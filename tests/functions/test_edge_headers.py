"""The edge (forwarding) drops what the caller may not tell the app, before the tunnel sets its
own headers (tunnel_shared.headers): the caller's ``Connection`` and every header it names, the
other hop-by-hop headers, and the headers apps read as the client's address or the URL served.
What the app receives is computed by the agent's own code (tunnel_cli.forward.request_headers)
from the message forwarding posted."""

from __future__ import annotations

import pytest

from tests.functions.agents import connect
from tests.functions.events import http_event
from tests.functions.test_tunnel_round_trip import answer_requests
from tunnel_cli.forward import request_headers
from tunnel_cli.messages import parse_request


def app_headers(functions, subdomain: str, headers: dict[str, str]) -> dict[str, list[str]]:
    """The headers the local app receives for a request the caller sent with ``headers``."""
    connection_id, _ = connect(functions, "edge", subdomain)
    agent = answer_requests(functions, connection_id)
    answer = functions.invoke("forwarding", http_event(subdomain, headers=headers))
    agent.join()
    assert answer["statusCode"] == 200
    (message,) = [m for m in functions.endpoint.messages(connection_id) if m["type"] == "request"]
    received: dict[str, list[str]] = {}
    for name, value in request_headers(parse_request(message), "127.0.0.1:3000"):
        received.setdefault(name.lower(), []).append(value)
    return received


def test_a_header_named_in_connection_cannot_strip_the_tunnels_own(functions):
    received = app_headers(
        functions,
        "conn-strip",
        {"connection": "x-forwarded-for, X-Forwarded-Host, keep-alive", "x-custom": "kept"},
    )
    assert received["x-forwarded-for"] == ["127.0.0.1"]
    assert received["x-forwarded-host"] == ["conn-strip.tunnel.test"]
    assert "connection" not in received
    assert received["x-custom"] == ["kept"]


def test_headers_connection_names_are_dropped_at_the_edge(functions):
    received = app_headers(
        functions, "conn-named", {"connection": "x-secret-hop", "x-secret-hop": "for this hop"}
    )
    assert "x-secret-hop" not in received
    assert received["host"] == ["conn-named.tunnel.test"]  # Host is never a connection option


@pytest.mark.parametrize(
    "name",
    [
        "x-real-ip",
        "true-client-ip",
        "client-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "x-original-url",
        "x-rewrite-url",
        "x-forwarded-prefix",
        "x-forwarded-ssl",
        "x-forwarded-scheme",
    ],
)
def test_client_address_and_url_claims_are_dropped(functions, name):
    value = "/admin" if "url" in name or "prefix" in name else "10.0.0.1"
    received = app_headers(functions, f"claim-{name.replace('x-', '')}"[:40], {name: value})
    assert name not in received
    assert received["x-forwarded-for"] == ["127.0.0.1"]
