"""The agent's side of the server's session rules: the per-run session secret on every
connection attempt, the final answers (409, ``closed``, the token's expiry) and ``replaced``."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime

from tests.cli.harness import (
    FakeGateway,
    eventually,
    make_token,
    running_agent,
)
from tunnel_cli.agent import Agent, AgentSettings


def expiry_line(token_expires: int) -> str:
    when = datetime.fromtimestamp(token_expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"tunnel: the token expired at {when}; issue a new one with `tunnel token`\n"


async def test_one_session_secret_on_every_attempt_and_never_printed(app):
    token = make_token()
    async with (
        FakeGateway() as gateway,
        running_agent(gateway, app.port, token=token, rotate_seconds=0.5) as agent,
    ):
        await gateway.next_ready()
        rotated = await gateway.next_ready()  # the planned reconnect
        rotated.ws.transport.abort()  # and one after a network drop
        await gateway.next_ready()
    sessions = {attempt.session for attempt in gateway.attempts}
    assert len(gateway.attempts) >= 3 and len(sessions) == 1
    (secret,) = sessions
    assert secret is not None and len(secret) >= 43  # secrets.token_urlsafe(32)
    output = agent.out.getvalue() + agent.err.getvalue()
    assert secret not in output and token not in output


async def test_each_run_has_its_own_session_secret(app):
    async with FakeGateway() as gateway:
        for _ in range(2):
            async with running_agent(gateway, app.port):
                await gateway.next_ready()
    first, second = (attempt.session for attempt in gateway.attempts)
    assert first != second


async def test_409_is_final_with_one_clear_line(app):
    async with (
        FakeGateway(refuse=lambda attempt: 409) as gateway,
        running_agent(gateway, app.port, exit_code=1) as agent,
    ):
        assert await asyncio.wait_for(agent.task, 2) == 1
    assert agent.err.getvalue() == (
        "tunnel: the subdomain is in use by another agent that is still connected; stop it or "
        "use another subdomain\n"
    )
    assert len(gateway.attempts) == 1


async def test_401_is_final_and_says_the_token_is_refused(app):
    async with (
        FakeGateway(refuse=lambda attempt: 401) as gateway,
        running_agent(gateway, app.port, exit_code=1) as agent,
    ):
        assert await asyncio.wait_for(agent.task, 2) == 1
    (line,) = agent.err.getvalue().splitlines()
    assert "(HTTP 401): the token is invalid, expired or revoked." in line
    assert "another agent" not in line
    assert len(gateway.attempts) == 1


async def test_closed_ends_the_agent_with_the_reason(app):
    reason = "the token was revoked " + "x" * 300
    async with (
        FakeGateway() as gateway,
        running_agent(gateway, app.port, exit_code=1) as agent,
    ):
        connection = await gateway.next_ready()
        sent_at = time.monotonic()
        await connection.send_closed(reason)
        assert await asyncio.wait_for(agent.task, 1.0) == 1
        assert time.monotonic() - sent_at < 1.0
    assert agent.err.getvalue() == f"tunnel: the server closed the tunnel: {reason[:200]}\n"
    assert len(gateway.attempts) == 1  # no reconnect


async def test_replaced_closes_the_older_connection_only_once_its_requests_are_answered(app):
    # The new connection is never registered: without ``replaced`` the old one would be kept
    # for REGISTRATION_WAIT_SECONDS (10 s).
    async with (
        FakeGateway(register=lambda connection: connection != 2) as gateway,
        running_agent(gateway, app.port, rotate_seconds=1.5) as agent,
    ):
        first = await gateway.next_ready()
        slow = asyncio.ensure_future(first.request("GET", "/slow", "ms=2000"))
        await eventually(lambda: len(gateway.connections) == 2 and gateway.connections[1].messages)
        second = gateway.connections[1]
        await first.send_replaced()
        response = await slow  # the request in flight is answered on the old connection
        await asyncio.wait_for(first.closed.wait(), 1.5)
        assert first.ws.close_code == 1000
        assert not second.closed.is_set()
        assert len(gateway.attempts) == 2  # nothing reconnected because of it
    assert (response.status, response.body) == (200, b"2000")
    assert "unknown type" not in agent.err.getvalue()


async def test_replaced_on_the_only_connection_is_logged_and_it_reconnects(app):
    async with FakeGateway() as gateway, running_agent(gateway, app.port) as agent:
        first = await gateway.next_ready()
        await first.send_replaced()
        second = await gateway.next_ready()
        await asyncio.wait_for(first.closed.wait(), 2)
        response = await second.request("GET", "/still-there")
        assert response.status == 200
    assert "the server gave the subdomain to another connection of this agent" in (
        agent.err.getvalue()
    )


async def test_the_token_expiring_while_running_ends_the_agent(app):
    token = make_token(ttl=2)  # expires in 1 to 2 s (claims hold whole seconds)
    expires = int(time.time() + 2)
    async with (
        FakeGateway() as gateway,
        running_agent(gateway, app.port, token=token, exit_code=1) as agent,
    ):
        connection = await gateway.next_ready()
        assert await asyncio.wait_for(agent.task, 3) == 1
        await asyncio.wait_for(connection.closed.wait(), 1)
    assert connection.ws.close_code == 1000
    assert agent.err.getvalue().endswith(expiry_line(expires)) or agent.err.getvalue().endswith(
        expiry_line(expires - 1)
    )


async def test_an_expired_token_ends_the_agent_before_connecting(app):
    token = make_token(ttl=10, now=time.time() - 100)
    expires = int(time.time() - 90)
    out, err = io.StringIO(), io.StringIO()
    async with FakeGateway() as gateway:
        agent = Agent(AgentSettings(url=gateway.url, token=token, port=app.port), out, err)
        assert await asyncio.wait_for(agent.run(), 1) == 1
    assert err.getvalue() in (expiry_line(expires), expiry_line(expires - 1))
    assert gateway.attempts == []
