"""No local request outlives its public request, at the agent: each request's budget
(``deadlineMs``) and the tunnel's cap (``inFlightPerTunnel``) in the protocol, the cut at the
deadline (the local service sees its connection closed, nothing is answered, the thread ends),
the bound on local requests, and requests in flight in the inspector."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from tunnel_shared import protocol
from tunnel_shared.limits import HTTP_INTEGRATION_TIMEOUT_SECONDS, REQUEST_DEADLINE_SECONDS

from tests.cli.harness import FakeGateway, LocalApp, eventually, header_values, running_agent
from tests.cli.inspector_helpers import call, running_inspector, tunnel_view
from tunnel_cli import agent as agent_module
from tunnel_cli import messages
from tunnel_cli.deadline import Deadline
from tunnel_cli.inspector.traffic import Traffic
from tunnel_cli.messages import MessageError, parse_budget, parse_request


def forward_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "tunnel-forward")


# The protocol ---------------------------------------------------------------------------------


def test_the_request_message_carries_the_budget_and_the_cap():
    text = protocol.request_message(
        "r1", "GET", "/", "", [], [], b"", deadline_ms=26_950, in_flight_per_tunnel=20
    )
    message = json.loads(text)
    assert (message["deadlineMs"], message["inFlightPerTunnel"]) == (26_950, 20)
    assert protocol.request_deadline_ms(message) == 26_950
    assert protocol.request_in_flight_per_tunnel(message) == 20
    assert parse_budget(message) == messages.Budget(26.95, 20)
    # A deadline already spent is no time at all, never a negative one.
    late = json.loads(protocol.request_message("r1", "GET", "/", "", [], [], b"", deadline_ms=-5))
    assert late["deadlineMs"] == 0


def test_a_message_without_them_has_neither_and_gets_the_derived_deadline():
    message = json.loads(protocol.request_message("r1", "GET", "/", "", [], [], b"x"))
    assert "deadlineMs" not in message and "inFlightPerTunnel" not in message
    assert protocol.request_deadline_ms(message) is None
    assert protocol.request_in_flight_per_tunnel(message) is None
    assert REQUEST_DEADLINE_SECONDS == HTTP_INTEGRATION_TIMEOUT_SECONDS - 2 == 27
    assert parse_budget(message) == messages.Budget(27.0, None)


def test_the_new_fields_change_nothing_else_an_agent_reads():
    # An agent that predates them reads only the fields it knows, as this parse_request does.
    plain = json.loads(protocol.request_message("r1", "POST", "/a", "q=1", [("a", "b")], [], b"x"))
    budgeted = json.loads(
        protocol.request_message(
            "r1", "POST", "/a", "q=1", [("a", "b")], [], b"x", deadline_ms=1, in_flight_per_tunnel=2
        )
    )
    assert parse_request(budgeted) == parse_request(plain)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("deadlineMs", "27000"),
        ("deadlineMs", -1),
        ("deadlineMs", 1.5),
        ("deadlineMs", True),
        ("inFlightPerTunnel", 0),
        ("inFlightPerTunnel", "20"),
        ("inFlightPerTunnel", False),
    ],
)
def test_a_malformed_budget_is_refused(field, value):
    message = json.loads(protocol.request_message("r1", "GET", "/", "", [], [], b""))
    with pytest.raises(protocol.ProtocolError, match=field):
        (protocol.request_deadline_ms, protocol.request_in_flight_per_tunnel)[
            field == "inFlightPerTunnel"
        ]({**message, field: value})
    with pytest.raises(MessageError, match=field):
        parse_budget({**message, field: value})


# The deadline, on its own -----------------------------------------------------------------------


def test_a_cut_wakes_a_read_blocked_in_another_thread_and_closes_the_peer():
    import http.client

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        deadline = Deadline(60)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        deadline.connect(connection)
        peer, _ = server.accept()
        returned = threading.Event()

        def read() -> None:
            assert connection.sock is not None
            connection.sock.recv(1)  # blocks: the peer sends nothing
            returned.set()

        threading.Thread(target=read, daemon=True).start()  # blocked or not, it returns
        started = time.monotonic()
        deadline.cut()
        assert returned.wait(2) and time.monotonic() - started < 0.5
        peer.settimeout(2)
        assert peer.recv(1) == b""  # the local service sees its connection closed
        deadline.forget(connection)
        connection.close()
        peer.close()
        with pytest.raises(OSError):  # nothing opens after the cut
            deadline.connect(http.client.HTTPConnection("127.0.0.1", port, timeout=5))


# The agent --------------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["chunked", "raw"])
async def test_an_endless_stream_is_cut_at_the_deadline_and_nothing_is_answered(app, framing):
    query = f"id={framing}" + ("&raw=1" if framing == "raw" else "")
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as running:
        connection = await gateway.next_ready()
        baseline = forward_threads()
        posted = time.monotonic()
        request_id = await connection.post("GET", "/events", query, fields={"deadlineMs": 400})
        await eventually(lambda: framing in app.ended, timeout=3)
        closed_after = app.ended[framing] - posted
        assert 0.35 <= closed_after < 1.4, closed_after  # at the deadline, not before
        await eventually(lambda: forward_threads() == baseline, timeout=2)  # its thread ended
        line = f"GET /events?{query} 504 cut at the deadline (0.4 s)"
        await eventually(lambda: line in running.lines())
        # Nothing was answered for it (a response ended by the cut is no answer), and the
        # agent goes on answering.
        assert (await connection.request("GET", "/next")).status == 200
        assert request_id not in connection.answered
        with pytest.raises(TimeoutError):
            await connection.answer(request_id, timeout=0.2)


async def test_a_message_without_a_deadline_gets_the_derived_one(app, monkeypatch):
    # The derived default, shortened here so the test takes a moment, not 27 s.
    monkeypatch.setattr(messages, "REQUEST_DEADLINE_SECONDS", 0.3)
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as running:
        connection = await gateway.next_ready()
        await connection.post("GET", "/events", "id=old-server")
        await eventually(lambda: "old-server" in app.ended, timeout=3)
        await eventually(
            lambda: "GET /events?id=old-server 504 cut at the deadline (0.3 s)" in running.lines()
        )


async def test_a_stream_that_ends_in_time_arrives_whole(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        response = await connection.request("GET", "/chunked", fields={"deadlineMs": 5000})
        assert (response.status, response.body) == (200, b"first,second,third")


async def test_local_requests_are_bounded_by_the_tunnels_cap(app):
    cap = {"inFlightPerTunnel": 3, "deadlineMs": 9000}
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as running:
        connection = await gateway.next_ready()
        held = [await connection.post("GET", "/hold", fields=cap) for _ in range(3)]
        await eventually(lambda: app.connections == 3)
        started = time.monotonic()
        extra = await connection.request("GET", "/extra", fields=cap)
        assert time.monotonic() - started < 1.0  # at once
        assert extra.status == 503
        assert header_values(extra.headers, "x-tunnel-error") == ["agent-busy"]
        assert header_values(extra.headers, "retry-after") == ["1"]
        assert extra.body == b"tunnel: the tunnel's agent has too many requests in flight; retry\n"
        assert app.connections == 3  # no local connection for it
        assert any("GET /extra: 3 local requests already in flight" in line for line in
                   running.err.getvalue().splitlines())  # fmt: skip
        app.release.set()
        for request_id in held:
            assert (await connection.answer(request_id)).status == 200
        assert (await connection.request("GET", "/after", fields=cap)).status == 200


async def test_a_cut_request_frees_its_place_at_once(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        fields = {"inFlightPerTunnel": 1, "deadlineMs": 300}
        await connection.post("GET", "/events", "id=first", fields=fields)
        await eventually(lambda: "first" in app.ended, timeout=3)
        response = await connection.request("GET", "/second", fields=fields)
        assert response.status == 200


def test_without_a_cap_from_the_server_the_bound_follows_the_open_files_limit(monkeypatch):
    resource = pytest.importorskip("resource")
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (64, 64))
    assert agent_module.fallback_in_flight() == (64 - agent_module.AGENT_FILES) // 2 == 24
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (resource.RLIM_INFINITY,) * 2)
    assert agent_module.fallback_in_flight() == agent_module.MAX_TUNNEL_IN_FLIGHT


# The inspector ----------------------------------------------------------------------------------


async def test_the_inspector_lists_requests_in_flight_then_how_they_ended(app: LocalApp):
    traffic = Traffic()
    view = tunnel_view(app.port)

    def listed() -> dict[str, dict]:
        status, _, answer = call(inspector, "GET", "/api/requests/http")
        assert status == 200
        return {item["request"]["uri"]: item for item in answer["requests"]}

    async def until_listed(predicate) -> dict[str, dict]:  # noqa: ANN001
        found: dict[str, dict] = {}

        def check() -> bool:
            found.update(listed())
            return predicate(found)

        await eventually(lambda: check(), timeout=5)
        return found

    with running_inspector(traffic, [view]) as inspector:
        async with (
            FakeGateway() as gateway,
            running_agent(gateway, app.port, traffic=traffic, view=view),
        ):
            connection = await gateway.next_ready()
            held = await connection.post("GET", "/hold", fields={"deadlineMs": 9000})
            first = (await until_listed(lambda f: "/hold" in f))["/hold"]
            assert first["state"] == "in flight" and first["response"] is None
            assert first["request"]["method"] == "GET" and first["cut"] is None
            later = (
                await until_listed(lambda f: f["/hold"]["duration"] > first["duration"] + 50e6)
            )["/hold"]
            assert later["id"] == first["id"]  # one entry, its time growing
            # Not a status yet: a status filter leaves it out.
            _, _, filtered = call(inspector, "GET", "/api/requests/http?status=2xx")
            assert filtered["requests"] == []

            app.release.set()
            assert (await connection.answer(held)).status == 200
            done = (await until_listed(lambda f: f["/hold"]["state"] == "answered"))["/hold"]
            assert done["id"] == first["id"] and done["response"]["status_code"] == 200
            assert done["response"]["body"]  # ngrok's fields, as for any answered request

            await connection.post("GET", "/events", "id=x", fields={"deadlineMs": 300})
            cut = (await until_listed(lambda f: f.get("/events?id=x", {}).get("state") == "cut"))[
                "/events?id=x"
            ]
            assert cut["response"] is None
            assert cut["cut"] == "cut at the deadline after 0.3 s"
            assert 0.3e9 <= cut["duration"] < 1.5e9
            status, _, one = call(inspector, "GET", f"/api/requests/http/{cut['id']}")
            assert status == 200 and one["state"] == "cut" and one["request"]["header_list"]
            assert len(listed()) == 2


async def test_an_agent_busy_answer_is_captured_as_the_agents_own(app: LocalApp):
    traffic = Traffic()
    view = tunnel_view(app.port)
    async with (
        FakeGateway() as gateway,
        running_agent(gateway, app.port, traffic=traffic, view=view),
    ):
        connection = await gateway.next_ready()
        fields = {"inFlightPerTunnel": 1, "deadlineMs": 9000}
        held = await connection.post("GET", "/hold", fields=fields)
        await eventually(lambda: app.connections == 1)
        assert (await connection.request("GET", "/busy", fields=fields)).status == 503
        [busy] = traffic.newest(path="/busy")
        assert busy.exchange.error == "agent-busy" and busy.exchange.status == 503
        app.release.set()
        await connection.answer(held)


async def test_stopping_the_agent_closes_its_local_connections(app: LocalApp):
    async with FakeGateway() as gateway, running_agent(gateway, app.port):
        connection = await gateway.next_ready()
        await connection.post("GET", "/events", "id=stopped", fields={"deadlineMs": 60_000})
        await eventually(lambda: any(r.target.startswith("/events") for r in app.requests))
    await eventually(lambda: "stopped" in app.ended, timeout=3)
