"""The local gateway applies the stage's web ACL as WAF does: a flood from one client IP turns
into the rule's 429 while other clients pass; a flood on one tunnel (Host) turns into 429s for
it while other tunnels pass. The web ACL is the one the emulator made from the edge template and
GetWebACLForResource returns; time is passed in, never waited for."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from local_gateway.waf import BlockResponse, WebAcl
from tests.waf.templates import template, user_data

API_ID, STAGE = "fl00dtest1", "live"
STAGE_ARN = f"arn:aws:apigateway:us-east-1::/restapis/{API_ID}/stages/{STAGE}"
PER_CLIENT, PER_TUNNEL, WINDOW = 10, 25, 60
T0 = 1_000_000.0


@pytest.fixture(scope="module")
def acl(emulator_endpoint: str) -> Iterator[WebAcl]:
    import boto3

    from tests.emulator.conftest import Stacks

    session = boto3.session.Session()
    stacks = Stacks(session.client("cloudformation"))
    data = user_data(per_client=PER_CLIENT, per_tunnel=PER_TUNNEL, window_seconds=WINDOW)
    stacks.create(template(data), {"RestApiId": API_ID, "StageName": STAGE})
    found = WebAcl.for_resource(session.client("wafv2"), STAGE_ARN)
    assert found is not None and found.ignored_rules == []
    yield found
    for name in list(stacks.names):
        stacks.delete(name)


@pytest.fixture
def web_acl(acl: WebAcl, aws: Any) -> WebAcl:
    """A fresh copy of the emulator's web ACL (no counts from another test)."""
    return WebAcl.for_resource(aws("wafv2"), STAGE_ARN)  # type: ignore[return-value]


def host(name: str) -> dict[str, str]:
    return {"Host": f"{name}.tunnel.example.com", "Accept": "*/*"}


def test_the_web_acl_is_the_stages(acl: WebAcl) -> None:
    assert acl.name == "http-tunnel-edge-prod"
    assert [(r.name, r.limit, r.window) for r in acl.rate_rules] == [
        ("per-client", PER_CLIENT, WINDOW),
        ("per-tunnel", PER_TUNNEL, WINDOW),
    ]


def test_a_flood_from_one_client_gets_429_while_another_client_passes(web_acl: WebAcl) -> None:
    clock = itertools.count()
    results = [
        web_acl.check("198.51.100.7", host("demo"), T0 + next(clock) * 0.01) for _ in range(50)
    ]
    assert results[:PER_CLIENT] == [None] * PER_CLIENT
    blocked = results[PER_CLIENT:]
    assert all(isinstance(r, BlockResponse) for r in blocked)
    response = blocked[0]
    assert response is not None
    assert response.status == 429
    assert dict(response.headers) == {"Retry-After": str(WINDOW), "Content-Type": "text/plain"}
    assert response.body == f"Too many requests: try again in {WINDOW} seconds.\n".encode()
    now = T0 + 1
    # Another client, on the same tunnel, passes (the blocked 40 never reached the tunnel rule).
    assert web_acl.check("203.0.113.9", host("demo"), now) is None
    # The flooding client is limited on any tunnel: the key is its IP.
    assert web_acl.check("198.51.100.7", host("other"), now) is not None
    # It keeps flooding half a window later: blocked requests count, so it stays limited...
    for step in range(20):
        assert web_acl.check("198.51.100.7", host("demo"), T0 + WINDOW / 2 + step) is not None
    # ...until its last window holds no more than the limit: a window after it stopped.
    assert web_acl.check("198.51.100.7", host("demo"), T0 + WINDOW / 2 + 19 + WINDOW) is None


def test_a_flood_on_one_tunnel_gets_429_while_other_tunnels_pass(web_acl: WebAcl) -> None:
    # Every request from its own IP: only the per-tunnel rule can limit them.
    ips = (f"10.0.{i // 250}.{i % 250}" for i in itertools.count())
    results = [web_acl.check(next(ips), host("busy"), T0 + i * 0.01) for i in range(40)]
    assert results[:PER_TUNNEL] == [None] * PER_TUNNEL
    assert {r.status for r in results[PER_TUNNEL:] if r is not None} == {429}
    assert results[PER_TUNNEL:].count(None) == 0
    now = T0 + 1
    assert web_acl.check(next(ips), host("quiet"), now) is None
    # Host is lowercased before it is a key: the same tunnel, whatever its case.
    assert web_acl.check(next(ips), {"HOST": "BUSY.Tunnel.Example.com"}, now) is not None
    # A request without a Host is not counted or limited by the per-tunnel rule.
    for _ in range(PER_TUNNEL + 5):
        assert web_acl.check(next(ips), {}, now) is None


def test_the_blocking_response_serves_as_an_aiohttp_response(web_acl: WebAcl) -> None:
    for step in range(PER_CLIENT):
        assert web_acl.check("192.0.2.1", host("demo"), T0 + step) is None
    blocked = web_acl.check("192.0.2.1", host("demo"), T0 + PER_CLIENT)
    assert blocked is not None
    response = blocked.to_aiohttp()
    assert response.status == 429
    assert response.headers["Retry-After"] == str(WINDOW)
    assert response.body == blocked.body
