"""Safe for many tenants, end to end through the local gateway with agents as subprocesses: a
leaked token cannot take a live tunnel, one token can be revoked and its agent is closed, a slow
tunnel cannot starve the others, and a tenant can neither toss cookies nor spoof the forwarded
headers."""

from __future__ import annotations

import json
import threading
import time

import pytest
import websockets.sync.client
from tunnel_shared.tokens import read_claims
from websockets.exceptions import InvalidStatus

from tests.tunnel.conftest import TUNNEL, Tunnel


def test_a_replayed_live_token_is_refused_and_the_owner_keeps_serving(tunnel: Tunnel):
    leaked = tunnel.token("owned")
    owner = tunnel.agent(leaked)
    owner.wait_for(r"^Forwarding ")
    thief = tunnel.agent(leaked)  # the very same token, from another agent
    assert thief.process.wait(timeout=20) == 1
    assert thief.wait_for(r"in use by another agent that is still connected")
    status, _, _ = tunnel.request("owned", "GET", "/echo")
    assert status == 200
    assert owner.process.poll() is None  # never displaced, never told to go
    owner.stop()


def test_a_revoked_token_closes_its_agent_at_once_and_is_refused_after(tunnel: Tunnel):
    token = tunnel.token("revocable")
    agent = tunnel.agent(token)
    agent.wait_for(r"^Forwarding ")
    started = time.monotonic()
    revoked = tunnel.run(
        str(TUNNEL),
        "token",
        "revoke",
        read_claims(token).token_id,
        "--connections-endpoint",
        tunnel.gateway.connections_endpoint,
    )
    assert revoked.returncode == 0, revoked.stderr
    assert agent.process.wait(timeout=60) == 1  # says why and exits: no reconnect loop
    assert time.monotonic() - started < 60
    assert agent.wait_for(r"the server closed the tunnel: the token was revoked")
    with pytest.raises(InvalidStatus) as refused:
        websockets.sync.client.connect(
            f"{tunnel.gateway.websocket_url}?token={token}", open_timeout=10
        )
    assert refused.value.response.status_code == 403
    assert tunnel.request("revocable", "GET", "/echo")[0] == 404


def test_a_tunnel_at_its_cap_gets_429_while_another_stays_fast(tunnel: Tunnel):
    slow, fast = tunnel.agent(tunnel.token("crowded")), tunnel.agent(tunnel.token("roomy"))
    slow.wait_for(r"^Forwarding "), fast.wait_for(r"^Forwarding ")
    statuses: list[int] = []
    hanging = [
        threading.Thread(
            target=lambda: statuses.append(tunnel.request("crowded", "GET", "/slow/6")[0])
        )
        for _ in range(20)  # dev's throttling.tunnel_in_flight
    ]
    for thread in hanging:
        thread.start()
    time.sleep(1.5)  # all 20 are in flight now
    started = time.monotonic()
    status, headers, _ = tunnel.request("crowded", "GET", "/echo")
    assert status == 429
    assert dict((k.lower(), v) for k, v in headers)["retry-after"] == "1"
    assert time.monotonic() - started < 4  # a moment's wait for a slot, then the answer
    started = time.monotonic()
    assert tunnel.request("roomy", "GET", "/echo")[0] == 200
    assert time.monotonic() - started < 1.0
    for thread in hanging:
        thread.join(30)
    assert statuses == [200] * 20
    slow.stop(), fast.stop()


def test_cookies_for_other_hosts_lose_their_domain(tunnel: Tunnel):
    agent = tunnel.agent(tunnel.token("tosser"))
    agent.wait_for(r"^Forwarding ")
    status, headers, _ = tunnel.request("tosser", "GET", "/toss")
    assert status == 200
    cookies = [value for name, value in headers if name.lower() == "set-cookie"]
    routing = "tunnel-route=tosser; Path=/; HttpOnly; SameSite=Lax"  # the tunnel's own
    assert cookies == ["parent=1; Path=/tosser/", "sibling=2", routing]
    agent.stop()


def test_a_spoofed_forwarded_host_is_replaced_by_the_tunnels(tunnel: Tunnel):
    agent = tunnel.agent(tunnel.token("honest"))
    agent.wait_for(r"^Forwarding ")
    status, _, body = tunnel.request(
        "honest",
        "GET",
        "/echo",
        [("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "gopher")],
    )
    assert status == 200
    seen = [tuple(pair) for pair in json.loads(body)["headers"]]
    forwarded_hosts = [value for name, value in seen if name == "x-forwarded-host"]
    # The Host the caller used (localhost:<port>) and the local gateway's scheme: the truth.
    assert forwarded_hosts == [tunnel.gateway.host("honest")]
    assert [value for name, value in seen if name == "x-forwarded-proto"] == ["http"]
    agent.stop()


def test_a_non_ascii_token_signature_is_a_plain_refusal(tunnel: Tunnel):
    head, claims, signature = tunnel.token("accented").split(".")
    with pytest.raises(InvalidStatus) as refused:
        websockets.sync.client.connect(
            f"{tunnel.gateway.websocket_url}?token={head}.{claims}.{signature[:-1]}%C3%A9",
            open_timeout=10,
        )
    assert refused.value.response.status_code == 403
    assert "authorizer-dev: " not in tunnel.gateway.log_tail(20)  # a Deny, not an error
