"""The request inspector's JSON API (ngrok's agent-API shape), its ring and its guards, against
an in-process Inspector and a real local app."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import threading
from datetime import datetime

import pytest

from tests.cli.harness import FakeGateway, LocalApp, eventually, header_values, running_agent
from tests.cli.inspector_helpers import (
    PUBLIC_HOST,
    call,
    exchange,
    forward_and_capture,
    running_inspector,
    tunnel_view,
)
from tunnel_cli.inspector.server import Inspector, InspectorError, TunnelView
from tunnel_cli.inspector.traffic import CAPTURE_BODY_BYTES, Traffic


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def inspector(traffic: Traffic, app: LocalApp):
    with running_inspector(traffic, [tunnel_view(app.port)]) as running:
        yield running


def test_tunnels_in_ngrok_shape(inspector: Inspector, app: LocalApp) -> None:
    status, _, answer = call(inspector, "GET", "/api/tunnels")
    assert status == 200
    assert answer["uri"] == "/api/tunnels"
    [tunnel] = answer["tunnels"]
    assert tunnel["name"] == "demo"
    assert tunnel["public_url"] == f"https://{PUBLIC_HOST}"
    assert tunnel["proto"] == "https"
    assert tunnel["config"] == {"addr": f"http://127.0.0.1:{app.port}", "inspect": True}


def test_a_captured_request_in_ngrok_shape(inspector: Inspector, traffic: Traffic, app) -> None:
    view = tunnel_view(app.port)
    body = b'{"a": 1}'
    rid = forward_and_capture(
        traffic,
        view,
        "POST",
        "/hook?x=1",
        [("Content-Type", "application/json"), ("X-Forwarded-For", "203.0.113.9, 10.0.0.1")],
        body,
    )
    status, _, one = call(inspector, "GET", f"/api/requests/http/{rid}")
    assert status == 200
    assert one["id"] == rid and one["uri"] == f"/api/requests/http/{rid}"
    assert one["tunnel_name"] == "demo"
    assert one["remote_addr"] == "203.0.113.9"
    assert datetime.fromisoformat(one["start"]).tzinfo is not None
    assert isinstance(one["duration"], int) and one["duration"] > 0
    request, response = one["request"], one["response"]
    assert request["method"] == "POST" and request["uri"] == "/hook?x=1"
    assert request["proto"] == "HTTP/1.1"
    assert request["headers"]["Content-Type"] == ["application/json"]
    assert request["headers"]["Host"] == [PUBLIC_HOST]
    assert request["header_list"][0] == ["Host", PUBLIC_HOST]
    raw = base64.b64decode(request["raw"])
    assert raw.startswith(b"POST /hook?x=1 HTTP/1.1\r\nHost: demo.tunnel.test\r\n")
    assert raw.endswith(b"\r\n\r\n" + body)
    assert base64.b64decode(request["body"]) == body and request["size"] == len(body)
    assert response["status"] == "200 OK" and response["status_code"] == 200
    assert base64.b64decode(response["raw"]).startswith(b"HTTP/1.1 200 OK\r\n")
    assert base64.b64decode(response["body"]) == body  # the app echoes
    assert one["replay_of"] is None and one["error"] is None


def test_the_list_is_newest_first_and_limited(inspector: Inspector, traffic: Traffic) -> None:
    ids = [traffic.add(exchange(f"/n/{i}")) for i in range(5)]
    status, _, answer = call(inspector, "GET", "/api/requests/http")
    assert status == 200 and answer["uri"] == "/api/requests/http"
    assert [r["id"] for r in answer["requests"]] == ids[::-1]
    _, _, limited = call(inspector, "GET", "/api/requests/http?limit=2")
    assert [r["id"] for r in limited["requests"]] == [ids[4], ids[3]]
    _, _, summary = call(inspector, "GET", "/api/requests/http?limit=1&summary=1")
    assert "raw" not in summary["requests"][0]["request"]


def test_the_list_filters(inspector: Inspector, traffic: Traffic) -> None:
    traffic.add(exchange("/a/users", status=200))
    traffic.add(exchange("/a/orders", status=404, method="POST"))
    traffic.add(exchange("/b/users", status=502, tunnel_name="api"))

    def uris(query: str) -> list[str]:
        status, _, answer = call(inspector, "GET", f"/api/requests/http?{query}")
        assert status == 200, answer
        return [r["request"]["uri"] for r in answer["requests"]]

    assert uris("path=users") == ["/b/users", "/a/users"]
    assert uris("method=post") == ["/a/orders"]
    assert uris("status=404") == ["/a/orders"]
    assert uris("status=5xx") == ["/b/users"]
    assert uris("tunnel_name=api") == ["/b/users"]


def test_an_unknown_id_is_a_json_404(inspector: Inspector) -> None:
    status, headers, answer = call(inspector, "GET", "/api/requests/http/req_nope")
    assert status == 404 and headers["content-type"] == "application/json"
    assert "req_nope" in answer["msg"] and answer["status_code"] == 404


def test_replay_sends_it_again_and_captures_the_replay(
    inspector: Inspector, traffic: Traffic, app: LocalApp
) -> None:
    rid = forward_and_capture(
        traffic, tunnel_view(app.port), "PUT", "/thing?v=2", [("X-Custom", "yes")], b"payload"
    )
    assert len(app.requests) == 1
    status, headers, answer = call(inspector, "POST", "/api/requests/http", {"id": rid})
    assert status == 204 and answer is None
    assert len(app.requests) == 2
    again = app.requests[1]
    assert (again.method, again.target, again.body) == ("PUT", "/thing?v=2", b"payload")
    assert header_values(again.headers, "X-Custom") == ["yes"]
    assert header_values(again.headers, "Host") == [PUBLIC_HOST]
    assert again.headers == app.requests[0].headers
    replay_id = headers["location"].rsplit("/", 1)[1]
    _, _, replayed = call(inspector, "GET", f"/api/requests/http/{replay_id}")
    assert replayed["replay_of"] == rid
    assert base64.b64decode(replayed["response"]["body"]) == b"payload"
    _, _, listed = call(inspector, "GET", "/api/requests/http")
    assert [r["id"] for r in listed["requests"]] == [replay_id, rid]


def test_an_edited_replay(inspector: Inspector, traffic: Traffic, app: LocalApp) -> None:
    rid = forward_and_capture(traffic, tunnel_view(app.port), "POST", "/old", [], b"old")
    edit = {
        "method": "PATCH",
        "uri": "/new?q=1",
        "headers": {"Host": [PUBLIC_HOST], "X-Edited": ["1", "2"]},
        "body": base64.b64encode(b"new body").decode(),
    }
    status, headers, _ = call(inspector, "POST", "/api/requests/http", {"id": rid, "request": edit})
    assert status == 204
    sent = app.requests[-1]
    assert (sent.method, sent.target, sent.body) == ("PATCH", "/new?q=1", b"new body")
    assert header_values(sent.headers, "X-Edited") == ["1", "2"]
    assert header_values(sent.headers, "Content-Length") == ["8"]
    raw = b"DELETE /raw HTTP/1.1\r\nHost: h.test\r\nX-Raw: y\r\n\r\nzz"
    edit = {"raw": base64.b64encode(raw).decode()}
    status, _, _ = call(inspector, "POST", "/api/requests/http", {"id": rid, "request": edit})
    assert status == 204
    sent = app.requests[-1]
    assert (sent.method, sent.target, sent.body) == ("DELETE", "/raw", b"zz")
    assert header_values(sent.headers, "Host") == ["h.test"]
    assert header_values(sent.headers, "X-Raw") == ["y"]


def test_a_partly_captured_body_is_not_replayed(
    inspector: Inspector, traffic: Traffic, app: LocalApp
) -> None:
    rid = traffic.add(exchange("/big", b"x" * 10, request_size=5_000_000, method="POST"))
    status, _, answer = call(inspector, "POST", "/api/requests/http", {"id": rid})
    assert status == 409 and "only in part" in answer["msg"]
    assert app.requests == []
    edit = {"body": base64.b64encode(b"small").decode()}
    status, _, _ = call(inspector, "POST", "/api/requests/http", {"id": rid, "request": edit})
    assert status == 204 and app.requests[-1].body == b"small"


def test_replay_to_a_tunnel_that_is_not_running(inspector: Inspector, traffic: Traffic) -> None:
    rid = traffic.add(exchange("/x", tunnel_name="gone"))
    status, _, answer = call(inspector, "POST", "/api/requests/http", {"id": rid})
    assert status == 409 and "'gone'" in answer["msg"]


def test_clear(inspector: Inspector, traffic: Traffic) -> None:
    traffic.add(exchange())
    status, _, answer = call(inspector, "DELETE", "/api/requests/http")
    assert status == 204 and answer is None
    assert call(inspector, "GET", "/api/requests/http")[2]["requests"] == []


def test_the_ring_keeps_the_newest_500() -> None:
    traffic = Traffic()
    ids = [traffic.add(exchange(f"/{i}")) for i in range(501)]
    assert len(traffic) == 500
    assert traffic.get(ids[0]) is None and traffic.get(ids[1]) is not None
    assert [c.id for c in traffic.newest(2)] == [ids[500], ids[499]]


def test_the_ring_is_bounded_in_bytes_and_bodies_are_capped() -> None:
    traffic = Traffic(max_bytes=3 * CAPTURE_BODY_BYTES)
    big = b"b" * (CAPTURE_BODY_BYTES + 100)
    ids = [traffic.add(exchange(f"/{i}", response_body=big)) for i in range(4)]
    kept = traffic.get(ids[-1])
    assert kept is not None and len(kept.exchange.response_body) == CAPTURE_BODY_BYTES
    assert kept.response_truncated and kept.exchange.response_size == len(big)
    assert traffic.bytes <= 3 * CAPTURE_BODY_BYTES
    assert [c.id for c in traffic.newest()] == ids[:0:-1][: len(traffic)]
    assert traffic.get(ids[0]) is None


def test_the_ring_is_safe_across_threads() -> None:
    traffic = Traffic(max_requests=50)
    threads = [
        threading.Thread(target=lambda: [traffic.add(exchange()) for _ in range(200)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(traffic) == 50 and traffic.version == 800


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("GET", "/api/requests/http?limit=0", None, 400, "limit"),
        ("GET", "/api/requests/http?limit=abc", None, 400, "limit"),
        ("GET", "/api/requests/http?status=teapot", None, 400, "status"),
        ("POST", "/api/requests/http", b"{not json", 400, "not valid JSON"),
        ("POST", "/api/requests/http", b"[1]", 400, "JSON object"),
        ("POST", "/api/requests/http", b"{}", 400, '"id"'),
        ("POST", "/api/requests/http", b'{"id": "req_unknown"}', 404, "req_unknown"),
        ("PUT", "/api/requests/http", None, 405, "PUT"),
        ("GET", "/api/nothing", None, 404, "/api/nothing"),
        ("GET", "/static/../server.py", None, 404, "static"),
    ],
)
def test_bad_input_is_a_json_4xx(
    inspector: Inspector, method: str, path: str, body: bytes | None, status: int, words: str
) -> None:
    got, headers, answer = call(inspector, method, path, raw=body)
    assert got == status, answer
    assert headers["content-type"] == "application/json"
    assert words in answer["msg"]
    assert "Traceback" not in answer["msg"]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"body": "***"}, "request.body is not valid base64"),
        ({"raw": "bm9wZQ=="}, "request.raw"),
        ({"uri": "http://elsewhere/"}, "request.uri"),
        ({"headers": {"Bad Name": ["x"]}}, "request.headers"),
        ({"headers": "x"}, "request.headers"),
        ({"method": "GE T"}, "request.method"),
    ],
)
def test_a_bad_edit_is_a_400(
    inspector: Inspector, traffic: Traffic, app: LocalApp, edit: dict, words: str
) -> None:
    rid = traffic.add(exchange())
    status, _, answer = call(inspector, "POST", "/api/requests/http", {"id": rid, "request": edit})
    assert status == 400 and words in answer["msg"], answer
    assert app.requests == []


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:4040", True),
        ("localhost:4040", True),
        ("inspect.localhost", True),
        ("[::1]:4040", True),
        ("127.8.9.10", True),
        ("evil.example:4040", False),
        ("localhost.evil.example", False),
        ("192.168.1.10:4040", False),
    ],
)
def test_the_host_guard(inspector: Inspector, host: str, allowed: bool) -> None:
    status, _, answer = call(inspector, "GET", "/api/tunnels", headers={"Host": host})
    assert status == (200 if allowed else 403), answer
    if not allowed:
        assert "DNS-rebinding" in answer["msg"]


def test_a_request_without_host_is_refused(inspector: Inspector) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", inspector.port, timeout=5)
    connection.putrequest("GET", "/api/tunnels", skip_host=True)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 403 and b"Host" in response.read()


def test_the_origin_guard(inspector: Inspector, traffic: Traffic) -> None:
    rid = traffic.add(exchange())
    own = f"http://127.0.0.1:{inspector.port}"
    status, _, _ = call(inspector, "GET", "/api/requests/http", headers={"Origin": own})
    assert status == 200
    for method, path, body in (
        ("GET", "/api/requests/http", None),
        ("POST", "/api/requests/http", {"id": rid}),
        ("DELETE", "/api/requests/http", None),
    ):
        status, _, answer = call(
            inspector, method, path, body, headers={"Origin": "http://evil.example"}
        )
        assert status == 403 and "cross-origin" in answer["msg"]
    assert len(traffic) == 1


SAFARI_16 = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/16.3"


@pytest.mark.parametrize(
    ("path", "headers", "allowed"),
    [
        # XS-Search: a page elsewhere times a filtered list; same-site is another port's page.
        ("/api/requests/http?path=/secret", {"Sec-Fetch-Site": "cross-site"}, False),
        ("/api/requests/http?path=/secret", {"Sec-Fetch-Site": "same-site"}, False),
        ("/api/requests/http/req_x", {"Sec-Fetch-Site": "cross-site"}, False),
        ("/api/tunnels", {"Sec-Fetch-Site": "same-site"}, False),
        ("/api/events", {"Sec-Fetch-Site": "cross-site"}, False),
        # A browser too old to say where it comes from needs the page's marker.
        ("/api/requests/http?path=/secret", {"User-Agent": SAFARI_16}, False),
        ("/api/requests/http", {"User-Agent": SAFARI_16, "X-Tunnel-Inspector": "page"}, True),
        ("/api/events", {"User-Agent": SAFARI_16}, True),  # EventSource cannot add it
        # The page's own scripts, an address typed in, curl and scripts.
        ("/api/requests/http?path=/secret", {"Sec-Fetch-Site": "same-origin"}, True),
        ("/api/requests/http", {"Sec-Fetch-Site": "none"}, True),
        ("/api/requests/http?path=/secret", {"User-Agent": "curl/7.88.1"}, True),
        ("/api/tunnels", {}, True),
        # The page and its files hold no captured data: a link from elsewhere still opens it.
        ("/", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, True),
        ("/inspect/http", {"User-Agent": SAFARI_16}, True),
        ("/static/inspector.js", {"Sec-Fetch-Site": "same-site"}, True),
    ],
)
def test_another_sites_reads_are_refused(
    inspector: Inspector, traffic: Traffic, path: str, headers: dict[str, str], allowed: bool
) -> None:
    traffic.add(exchange(target="/secret"))
    connection = http.client.HTTPConnection("127.0.0.1", inspector.port, timeout=5)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    if path == "/api/events":  # an endless stream when admitted: its status is enough
        connection.close()
        assert response.status == (200 if allowed else 403)
        return
    data = response.read()
    connection.close()
    if allowed:
        assert response.status in (200, 404), data  # 404: req_x is no captured request
        return
    assert response.status == 403
    assert b"secret" not in data.replace(b"/secret", b"")  # says no more than the refusal
    assert "open the inspector's own page" in json.loads(data)["msg"]


def test_state_changing_requests_need_json(inspector: Inspector, traffic: Traffic) -> None:
    rid = traffic.add(exchange())
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, _, answer = call(
            inspector,
            "POST",
            "/api/requests/http",
            raw=json.dumps({"id": rid}).encode(),
            headers={"Content-Type": content_type},
        )
        assert status == 415 and "application/json" in answer["msg"]
    status, _, _ = call(
        inspector, "DELETE", "/api/requests/http", raw=b"x", headers={"Content-Type": "text/plain"}
    )
    assert status == 415 and len(traffic) == 1
    status, _, _ = call(
        inspector, "DELETE", "/api/requests/http", headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert status == 403 and len(traffic) == 1


def test_the_page_is_served_with_a_strict_policy(inspector: Inspector) -> None:
    for path in ("/", "/inspect/http", "/static/inspector.js", "/static/inspector.css"):
        connection = http.client.HTTPConnection("127.0.0.1", inspector.port, timeout=5)
        connection.request("GET", path)
        response = connection.getresponse()
        data = response.read()
        assert response.status == 200, path
        assert "default-src 'none'" in response.getheader("Content-Security-Policy")
        assert b'src="http' not in data and b'href="http' not in data, path
        assert b"fonts.googleapis" not in data and b"cdn" not in data.lower(), path


def test_live_updates_announce_new_traffic(inspector: Inspector, traffic: Traffic) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", inspector.port, timeout=5)
    connection.request("GET", "/api/events")
    response = connection.getresponse()
    assert response.getheader("Content-Type") == "text/event-stream"
    first = response.fp.readline() + response.fp.readline()
    assert first.startswith(b"event: traffic\n")
    response.fp.readline()
    traffic.add(exchange())
    assert response.fp.readline() == b"event: traffic\n"
    assert json.loads(response.fp.readline().removeprefix(b"data: "))["count"] == 1
    connection.close()


def test_a_taken_port_moves_to_the_next_or_fails_in_one_line(traffic: Traffic) -> None:
    first = Inspector(traffic, list)
    first.start("127.0.0.1", 0)
    try:
        second = Inspector(traffic, list)
        url = second.start("127.0.0.1", first.port)
        second.close()
        assert url != first.url and url.startswith("http://127.0.0.1:")
        with pytest.raises(InspectorError, match="address already in use") as raised:
            Inspector(traffic, list).start("127.0.0.1", first.port, next_free=False)
        assert "\n" not in str(raised.value)
    finally:
        first.close()


@pytest.mark.parametrize(
    ("public_url", "headers", "cookie"),
    [
        # By Host: the tunnel's own host; Domain= for another is dropped.
        ("https://{subdomain}.tunnel.test", [("x-forwarded-host", PUBLIC_HOST)], "a=1; Path=/"),
        # By path on one host: the Path goes under the tunnel's own path too.
        (
            "http://api.execute-api.localhost:4567/{subdomain}",
            [("host", "api.execute-api.localhost:4567")],
            "a=1; Path=/demo/",
        ),
    ],
)
async def test_the_inspector_shows_set_cookie_as_the_browser_got_it(
    app: LocalApp, public_url: str, headers: list[tuple[str, str]], cookie: str
) -> None:
    traffic, view = Traffic(), TunnelView("demo", "127.0.0.1", app.port, 5.0)
    with running_inspector(traffic, [view]) as inspector:
        async with (
            FakeGateway(public_url=public_url) as gateway,
            running_agent(gateway, app.port, traffic=traffic, view=view),
        ):
            connection = await gateway.next_ready()
            answer = await connection.request("GET", "/toss", headers=headers)
            assert header_values(answer.headers, "set-cookie") == [
                "a=1; Domain=example.com; Path=/"  # the app's, scoped by the forwarding function
            ]
            await eventually(lambda: len(traffic) == 1)
        status, _, listed = await asyncio.to_thread(call, inspector, "GET", "/api/requests/http")
    assert status == 200
    (captured,) = listed["requests"]
    assert captured["response"]["headers"]["Set-Cookie"] == [cookie]
    assert ["Set-Cookie", cookie] in captured["response"]["header_list"]
    assert f"Set-Cookie: {cookie}\r\n".encode() in base64.b64decode(captured["response"]["raw"])
