"""A real HTTP request crosses the tunnel on one machine, byte for byte, and the tunnel holds
up under concurrency, rejections, ownership disputes, agent failure, spoofing and size limits."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets.sync.client
from tunnel_shared import capacity, protocol
from websockets.exceptions import InvalidStatus

from tests.tunnel.conftest import Tunnel


@pytest.fixture(scope="module")
def demo(tunnel: Tunnel) -> Tunnel:
    agent = tunnel.agent(tunnel.token("demo"))
    match = agent.wait_for(r"^Forwarding (\S+) -> (\S+)$")
    assert match.group(1) == tunnel.gateway.public_url("demo")
    return tunnel


def test_the_printed_url_plus_a_path_reaches_the_local_service_as_that_path(demo):
    # dev has no custom domain: as on AWS, the URL is a path on the HTTP API's own endpoint,
    # here under a name every client resolves (Python's own resolver, no Host header set).
    agent = demo.agents[0]
    printed = agent.wait_for(r"^Forwarding (\S+) -> (\S+)$").group(1)
    assert printed == f"http://localhost:{demo.gateway.port}/demo"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(printed + "/x/y?q=1", timeout=30) as response:
        assert response.status == 200
        body = response.read()
    assert echoed(body)["target"] == "/x/y?q=1"


def test_the_execute_api_name_of_the_http_api_reaches_it_too(demo, wiring_ids):
    # curl and browsers resolve *.localhost: the API's own name is an alias of localhost.
    connection = http.client.HTTPConnection("127.0.0.1", demo.gateway.port, timeout=30)
    host = f"{wiring_ids['HttpApiId']}.execute-api.localhost:{demo.gateway.port}"
    connection.request("GET", "/demo/x?q=2", headers={"Host": host})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 200, body
    assert echoed(body)["target"] == "/x?q=2"


@pytest.fixture(scope="module")
def wiring_ids(tunnel: Tunnel) -> dict[str, str]:
    (stack,) = tunnel.client("cloudformation").describe_stacks(StackName="http-tunnel-dev-apis")[
        "Stacks"
    ]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def echoed(body: bytes) -> dict:
    return json.loads(body)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_methods_query_strings_and_headers_arrive_exactly(demo, method):
    target = "/echo/p%C3%A4th?a=1&a=2&b=%2F%3D&empty=&flag"
    body = os.urandom(1024) if method in ("POST", "PUT") else None
    status, headers, data = demo.request(
        "demo", method, target, [("x-repeat", "one"), ("x-repeat", "two"), ("cookie", "k=v")], body
    )
    assert status == 200
    request = echoed(data)
    assert request["method"] == method
    assert request["target"] == target
    sent = [tuple(pair) for pair in request["headers"]]
    # API Gateway joins repeated headers with commas; the app gets every value, in order.
    assert (
        ("x-repeat", "one,two") in sent
        or ("x-repeat", "one, two") in sent
        or (("x-repeat", "one") in sent and ("x-repeat", "two") in sent)
    )
    assert ("cookie", "k=v") in sent
    assert base64.b64decode(request["body"]) == (body or b"")
    cookies = [value for name, value in headers if name.lower() == "set-cookie"]
    # dev's tunnels are paths of one host: each cookie is kept under its tunnel's own path,
    # and the tunnel adds its routing cookie (the request carried none).
    assert cookies == [
        "first=1; Path=/demo/",
        "second=2; Path=/demo/; HttpOnly",
        "tunnel-route=demo; Path=/; HttpOnly; SameSite=Lax",
    ]


def test_head_and_204_have_no_body(demo):
    status, _, data = demo.request("demo", "HEAD", "/echo")
    assert (status, data) == (200, b"")
    status, _, data = demo.request("demo", "GET", "/status/204")
    assert (status, data) == (204, b"")


def test_64_kb_of_binary_crosses_both_ways_byte_identical(demo):
    upload = os.urandom(64 * 1024)
    status, _, data = demo.request(
        "demo", "POST", "/echo", [("content-type", "application/octet-stream")], upload
    )
    assert status == 200
    assert base64.b64decode(echoed(data)["body"]) == upload
    status, _, data = demo.request("demo", "GET", "/bytes/65536")
    assert status == 200
    assert data == demo.app.payloads[65536]


def test_a_burst_past_the_tunnels_cap_waits_for_slots(demo):
    # dev's 20 in flight per tunnel, and as many callers again may wait a moment for a slot:
    # none of them is refused.
    burst = capacity.executions_per_tunnel(20)  # dev's throttling.tunnel_in_flight

    def one(index: int) -> tuple[int, str]:
        status, _, data = demo.request("demo", "GET", f"/echo/{index}?i={index}")
        return status, echoed(data)["target"]

    with ThreadPoolExecutor(max_workers=burst) as pool:
        results = list(pool.map(one, range(burst)))
    assert results == [(200, f"/echo/{i}?i={i}") for i in range(burst)]


def test_an_unknown_subdomain_answers_404(demo):
    status, _, data = demo.request("nobody", "GET", "/")
    assert status == 404
    assert b"nobody" in data and b"Traceback" not in data


def test_an_unauthenticated_connect_is_refused(demo):
    with pytest.raises(InvalidStatus) as refused:
        websockets.sync.client.connect(demo.gateway.websocket_url, open_timeout=10)
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as refused:
        websockets.sync.client.connect(
            f"{demo.gateway.websocket_url}?token=v1.forged.token", open_timeout=10
        )
    assert refused.value.response.status_code == 403


def test_a_second_token_cannot_take_a_live_subdomain(demo):
    intruder = demo.token("demo", subject="mallory")
    with pytest.raises(InvalidStatus) as refused:
        websockets.sync.client.connect(
            f"{demo.gateway.websocket_url}?token={intruder}", open_timeout=10
        )
    assert refused.value.response.status_code == 409
    status, _, _ = demo.request("demo", "GET", "/echo")
    assert status == 200


def test_a_reconnect_keeps_its_subdomain(demo):
    token = demo.token("keeper")
    first = demo.agent(token)
    url = first.wait_for(r"^Forwarding (\S+) -> ").group(1)
    first.stop(signal.SIGKILL)  # no clean close: the claim is still held
    second = demo.agent(token)
    assert second.wait_for(r"^Forwarding (\S+) -> ").group(1) == url
    status, _, _ = demo.request("keeper", "GET", "/echo")
    assert status == 200
    second.stop()


def test_killing_the_agent_mid_request_gives_502_within_2_seconds(demo):
    token = demo.token("doomed")
    agent = demo.agent(token)
    agent.wait_for(r"^Forwarding ")
    answers: list[tuple[int, float]] = []

    def slow_request() -> None:
        status, _, _ = demo.request("doomed", "GET", "/slow/10")
        answers.append((status, time.monotonic()))

    waiting = threading.Thread(target=slow_request)
    waiting.start()
    time.sleep(1.0)
    killed_at = time.monotonic()
    agent.stop(signal.SIGKILL)
    waiting.join(timeout=15)
    assert answers, "no answer"
    status, answered_at = answers[0]
    assert status == 502
    assert answered_at - killed_at < 2.0
    items = demo.client("dynamodb").scan(TableName="http-tunnel-connections-dev")["Items"]
    assert not [i for i in items if i.get("publicSubdomain", {}).get("S") == "doomed"]


def test_a_forged_response_from_another_connection_is_refused(demo):
    spoofer = websockets.sync.client.connect(
        f"{demo.gateway.websocket_url}?token={demo.token('spoofer', subject='mallory')}",
        open_timeout=10,
    )
    answers: list[bytes] = []
    waiting = threading.Thread(
        target=lambda: answers.append(demo.request("demo", "GET", "/slow/1.5")[2])
    )
    waiting.start()
    # The spoofer cannot know the request's reply MAC: it makes up one for an address of its
    # choosing (the answers API's connection ids look like the agents').
    forged = protocol.Reply("eoyANcMASrTjpso=", "A" * 43)
    spoofer.send(protocol.response_message("any-request", 200, [], b"forged", reply=forged))
    reply = json.loads(spoofer.recv(timeout=10))
    spoofer.close()
    waiting.join(timeout=15)
    assert reply["type"] == "rejected"
    assert answers == [b"slow"]
