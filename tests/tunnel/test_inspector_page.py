"""The inspector's page in a real headless Chromium, fed by the whole tunnel: requests sent to
the public URL appear in the page of the agent that answered them, open with their headers and
body, and replay to the local service."""

from __future__ import annotations

import json

from tests.browser.conftest import InspectorPage, driver  # noqa: F401 (a fixture)
from tests.tunnel.conftest import Tunnel


def test_the_page_shows_and_replays_what_came_through_the_tunnel(tunnel: Tunnel, driver):  # noqa: F811
    agent = tunnel.agent(tunnel.token("inspected"), None, "--inspect-addr", "127.0.0.1:0")
    inspector = agent.wait_for(r"^Web Interface (http://127\.0\.0\.1:\d+)$").group(1)
    agent.wait_for(r"^Forwarding ")
    page = InspectorPage(driver, f"{inspector}/").load()
    assert page.rows() == []

    sent = {"hello": "tunnel", "n": [1, 2]}
    status, _, _ = tunnel.request(
        "inspected",
        "POST",
        "/echo?through=tunnel",
        headers=[("Content-Type", "application/json"), ("X-Trace", "via-tunnel")],
        body=json.dumps(sent).encode(),
    )
    assert status == 200
    [row] = page.wait_rows(1)  # no reload: the live update brought it
    assert (row["method"], row["path"], row["status"]) == ("POST", "/echo?through=tunnel", "200")

    page.open(0)
    request_headers = {name.lower(): value for name, value in page.headers("request")}
    assert request_headers["x-trace"] == "via-tunnel"
    assert request_headers["content-type"] == "application/json"
    assert json.loads(page.body("request", "body-json")) == sent
    assert page.body("request", "body-json") == json.dumps(sent, indent=2)  # pretty-printed
    echoed = json.loads(page.body("response", "body-json"))
    assert echoed["target"] == "/echo?through=tunnel"
    response_headers = [name.lower() for name, _ in page.headers("response")]
    assert response_headers.count("set-cookie") == 2  # both, in order, as the caller got them

    before = tunnel.app.received.count(("POST", "/echo?through=tunnel"))
    page.replay()
    rows = page.wait_rows(2)
    assert rows[0]["replay"] and not rows[1]["replay"]
    assert tunnel.app.received.count(("POST", "/echo?through=tunnel")) == before + 1
    assert agent.stop() == 0
