"""``tunnel start`` through the whole tunnel: two tunnels from one ``tunnel.yml``, each on its own
connection to its own local service, with their own log lines and one shared inspector whose
JSON API (ngrok's shape) lists, shows, replays and clears what they carried. A tunnel that is
refused ends alone."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tunnel.conftest import Agent, Tunnel
from tests.tunnel.local_app import LocalApp

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def api(inspector: str, path: str, method: str = "GET", body: dict | None = None):  # noqa: ANN201
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{inspector}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


@pytest.fixture
def second_app() -> Iterator[LocalApp]:
    app = LocalApp()
    yield app
    app.stop()


@pytest.fixture
def started(tunnel: Tunnel, second_app: LocalApp, tmp_path: Path) -> Iterator[tuple[Agent, str]]:
    config = tmp_path / "tunnel.yml"
    config.write_text(
        f"url: {tunnel.gateway.websocket_url}\n"
        "tunnels:\n"
        f"  web:  {{port: {tunnel.app.port}, subdomain: yml-web, token_env: WEB_TOKEN}}\n"
        f"  api:  {{addr: '127.0.0.1:{second_app.port}', token_env: API_TOKEN}}\n"
        f"  idle: {{port: {tunnel.app.port}, token_env: IDLE_TOKEN}}\n"
    )
    tokens = {
        "WEB_TOKEN": tunnel.token("yml-web"),
        "API_TOKEN": tunnel.token("yml-api"),
        "IDLE_TOKEN": tunnel.token("yml-idle"),
    }
    agent = tunnel.spawn(
        "start", "web", "api", "--config", str(config), "--inspect-addr", "127.0.0.1:0",
        environment=tokens,
    )  # fmt: skip
    inspector = agent.wait_for(r"^Web Interface (http://127\.0\.0\.1:\d+)$").group(1)
    agent.wait_for(r"^\[web\] Forwarding \S+ -> http://127\.0\.0\.1:\d+$")
    agent.wait_for(r"^\[api\] Forwarding \S+ -> http://127\.0\.0\.1:\d+$")
    yield agent, inspector
    assert agent.stop() == 0


def test_two_tunnels_from_one_file_reach_their_own_services(tunnel, second_app, started):
    agent, _ = started
    status, _, body = tunnel.request("yml-web", "GET", "/echo?to=web")
    assert status == 200 and json.loads(body)["target"] == "/echo?to=web"
    status, _, body = tunnel.request("yml-api", "POST", "/echo?to=api", body=b"hello api")
    assert status == 200 and base64.b64decode(json.loads(body)["body"]) == b"hello api"
    assert agent.wait_for(r"^\[web\] GET /echo\?to=web 200 ")
    assert agent.wait_for(r"^\[api\] POST /echo\?to=api 200 ")
    # The tunnel not named was not started.
    status, _, _ = tunnel.request("yml-idle", "GET", "/echo")
    assert status != 200
    assert not any("[idle]" in line for line in agent.lines)


def test_the_shared_inspector_lists_both_tunnels_in_ngroks_shape(tunnel, second_app, started):
    _, inspector = started
    status, listed = api(inspector, "/api/tunnels")
    assert status == 200
    tunnels = {t["name"]: t for t in listed["tunnels"]}
    assert set(tunnels) == {"web", "api"}
    assert tunnels["web"]["config"]["addr"] == f"http://127.0.0.1:{tunnel.app.port}"
    assert tunnels["api"]["config"]["addr"] == f"http://127.0.0.1:{second_app.port}"
    assert "yml-web" in tunnels["web"]["public_url"]
    assert "yml-api" in tunnels["api"]["public_url"]


def test_the_json_api_lists_gets_replays_and_clears(tunnel, second_app, started):
    _, inspector = started
    assert api(inspector, "/api/requests/http", "DELETE")[0] == 204
    tunnel.request("yml-web", "GET", "/echo?first", headers=[("X-Trace", "one")])
    tunnel.request("yml-api", "PUT", "/echo?second", body=b'{"n": 2}')

    _, listed = api(inspector, "/api/requests/http")
    newest, older = listed["requests"]
    assert (newest["tunnel_name"], older["tunnel_name"]) == ("api", "web")
    assert newest["request"]["method"] == "PUT" and newest["request"]["uri"] == "/echo?second"
    assert newest["response"]["status_code"] == 200
    assert RFC3339.match(newest["start"]) and isinstance(newest["duration"], int)
    assert older["request"]["headers"]["X-Trace"] == ["one"]
    _, limited = api(inspector, "/api/requests/http?limit=1")
    assert [r["id"] for r in limited["requests"]] == [newest["id"]]

    _, one = api(inspector, f"/api/requests/http/{newest['id']}")
    assert one["id"] == newest["id"] and one["request"]["method"] == "PUT"
    assert b'{"n": 2}' in base64.b64decode(one["request"]["raw"])

    received = second_app.received.count(("PUT", "/echo?second"))
    status, _ = api(inspector, "/api/requests/http", "POST", {"id": newest["id"]})
    assert status == 204
    _, after = api(inspector, "/api/requests/http")
    replay = after["requests"][0]
    assert replay["tunnel_name"] == "api" and replay["request"]["uri"] == "/echo?second"
    assert replay["response"]["status_code"] == 200
    assert second_app.received.count(("PUT", "/echo?second")) == received + 1

    assert api(inspector, "/api/requests/http", "DELETE")[0] == 204
    assert api(inspector, "/api/requests/http")[1]["requests"] == []


def test_a_refused_tunnel_ends_alone_and_the_others_keep_serving(tunnel, tmp_path):
    held = tunnel.token("yml-held")
    holder = tunnel.agent(held)
    holder.wait_for(r"^Forwarding ")
    config = tmp_path / "tunnel.yml"
    config.write_text(
        f"url: {tunnel.gateway.websocket_url}\n"
        "tunnels:\n"
        f"  mine:  {{port: {tunnel.app.port}, token_env: MINE}}\n"
        f"  taken: {{port: {tunnel.app.port}, token_env: TAKEN}}\n"
    )
    agent = tunnel.spawn(
        "start", "--all", "--config", str(config), "--no-inspect",
        environment={"MINE": tunnel.token("yml-mine"), "TAKEN": held},
    )  # fmt: skip
    agent.wait_for(r"^\[mine\] Forwarding ")
    assert agent.wait_for(r"\[taken\] the subdomain is in use by another agent")
    assert agent.process.poll() is None  # still running for the other tunnel
    status, _, _ = tunnel.request("yml-mine", "GET", "/echo")
    assert status == 200
    assert agent.stop() == 1  # one of its tunnels ended for good
    holder.stop()
