"""The answers client (tunnel_shared.answers) against a real WebSocket server on loopback
(the ``websockets`` package, test-only): the upgrade and its signature headers, ``whoami``,
fragmented messages reassembled, ping answered, answers routed by requestId across threads,
stale answers dropped, a server that closes or vanishes mid-request, a refused upgrade, and
renewal before API Gateway's 2-hour and idle limits on a clock the test moves."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from tunnel_shared import answers, protocol
from tunnel_shared.limits import MAX_FRAME_BYTES
from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.sync.server import ServerConnection, serve


@dataclass
class AnswersServer:
    """A stand-in for the answers API: answers ``whoami`` with ``you``; the test sends the rest."""

    refuse: int | None = None
    answer_whoami: bool = True
    connections: dict[str, ServerConnection] = field(default_factory=dict)
    upgrades: list[Headers] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    url: str = ""
    _count: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def handler(self, websocket: ServerConnection) -> None:
        with self._changed:
            self._count += 1
            connection_id = f"conn-{self._count}="
            self.connections[connection_id] = websocket
            self._changed.notify_all()
        for message in websocket:
            with self._changed:
                self.received.append(str(message))
                self._changed.notify_all()
            if json.loads(message).get("action") == "whoami" and self.answer_whoami:
                websocket.send(protocol.you_message(connection_id))

    def process_request(self, connection: ServerConnection, request) -> Response | None:
        self.upgrades.append(request.headers)
        if self.refuse is not None:
            return connection.respond(self.refuse, "Forbidden\n")
        return None

    def wait_for(self, predicate, seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                assert left > 0, "the server never saw it"
                self._changed.wait(left)


@pytest.fixture
def server() -> Iterator[AnswersServer]:
    state = AnswersServer()
    with serve(
        state.handler,
        "127.0.0.1",
        0,
        process_request=state.process_request,
        ping_interval=None,
        compression=None,
    ) as running:
        port = running.socket.getsockname()[1]
        state.url = f"ws://127.0.0.1:{port}/dev"
        threading.Thread(target=running.serve_forever, daemon=True).start()
        yield state


def signer(url: str) -> dict[str, str]:
    return {"Authorization": f"AWS4-HMAC-SHA256 for {url}", "X-Amz-Date": "20261203T000000Z"}


def answer(request_id: str, body: bytes = b"ok") -> str:
    return protocol.answer_message(request_id, 200, [("content-type", "text/plain")], body)


def test_a_channel_learns_its_id_and_sends_the_signature_headers(server):
    channel = answers.open_channel(server.url, signer)
    try:
        assert channel.connection_id == "conn-1="
        headers = server.upgrades[0]
        assert headers["Authorization"] == f"AWS4-HMAC-SHA256 for {server.url}"
        assert headers["X-Amz-Date"] == "20261203T000000Z"
        assert headers["Host"] == server.url.split("/")[2]
    finally:
        channel.close()


def test_the_sigv4_signer_signs_the_upgrade_for_execute_api(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    headers = answers.sigv4_signer()("wss://abc.execute-api.eu-west-1.amazonaws.com/dev")
    assert (
        headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        and "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    )
    assert "SignedHeaders=host;x-amz-date" in headers["Authorization"]


def test_an_answer_reaches_its_waiter_and_a_fragmented_one_is_reassembled(server):
    channel = answers.open_channel(server.url, signer)
    try:
        body = bytes(range(256)) * 350  # 90 KB: a message of several 32 KB frames
        text = answer("big", body)
        with channel.expect("small") as small, channel.expect("big") as big:
            websocket = server.connections[channel.connection_id]
            websocket.send(answer("small"))
            chunks = [text[i : i + MAX_FRAME_BYTES] for i in range(0, len(text), MAX_FRAME_BYTES)]
            assert len(chunks) > 3
            websocket.send(iter(chunks))  # one message, one frame per chunk
            assert small.wait(5).body == b"ok"
            assert big.wait(5).body == body
        assert channel.waiting == 0
    finally:
        channel.close()


def test_a_ping_is_answered_with_a_pong(server):
    channel = answers.open_channel(server.url, signer)
    try:
        pong = server.connections[channel.connection_id].ping(b"are you there")
        assert pong.wait(5)
    finally:
        channel.close()


def test_concurrent_waiters_each_get_their_own_answer(server):
    channel = answers.open_channel(server.url, signer)
    results: dict[str, bytes] = {}
    ids = [f"request-{n}" for n in range(16)]
    waiters = {request_id: channel.expect(request_id) for request_id in ids}

    def wait(request_id: str) -> None:
        with waiters[request_id] as waiter:
            results[request_id] = waiter.wait(5).body

    threads = [threading.Thread(target=wait, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    websocket = server.connections[channel.connection_id]
    for request_id in reversed(ids):
        websocket.send(answer(request_id, request_id.encode()))
    for thread in threads:
        thread.join(5)
    channel.close()
    assert results == {request_id: request_id.encode() for request_id in ids}


def test_an_answer_nobody_waits_for_is_dropped(server):
    channel = answers.open_channel(server.url, signer)
    try:
        with channel.expect("ended") as waiter:
            assert waiter.wait(0) is None  # its request gave up (a timeout)
        websocket = server.connections[channel.connection_id]
        websocket.send(answer("ended"))
        with channel.expect("next") as waiter:
            websocket.send(answer("next"))
            assert waiter.wait(5).request_id == "next"
        assert channel.dropped == 1
    finally:
        channel.close()


def test_a_server_that_closes_mid_request_fails_the_wait_at_once(server):
    channel = answers.open_channel(server.url, signer)
    with channel.expect("waiting") as waiter:
        server.connections[channel.connection_id].close()
        started = time.monotonic()
        with pytest.raises(answers.ChannelLost, match="closed the connection"):
            waiter.wait(20)
        assert time.monotonic() - started < 10  # not the deadline
    assert channel.closed.is_set()
    with pytest.raises(answers.ChannelLost):
        channel.expect("after")


def test_a_connection_that_vanishes_mid_request_fails_the_wait(server):
    channel = answers.open_channel(server.url, signer)
    with channel.expect("waiting") as waiter:
        # No close frame: the TCP connection just ends (a reset after a freeze, say).
        server.connections[channel.connection_id].socket.shutdown(socket.SHUT_RDWR)
        with pytest.raises(answers.ChannelLost, match="failed|closed"):
            waiter.wait(20)


def test_a_refused_upgrade_is_one_clear_line(server):
    server.refuse = 403
    with pytest.raises(answers.ChannelLost, match=r"refused the connection \(403\)"):
        answers.open_channel(server.url, None)


def test_no_you_in_time_is_a_failed_connect(server):
    server.answer_whoami = False
    with pytest.raises(answers.ChannelLost, match="did not say"):
        answers.open_channel(server.url, signer, timeout=0.2)


def test_a_server_frame_over_the_message_limit_closes_with_1009(server):
    channel = answers.open_channel(server.url, signer)
    with channel.expect("waiting") as waiter:
        server.connections[channel.connection_id].send(b"x" * (protocol.MAX_MESSAGE_BYTES + 1))
        with pytest.raises(answers.ChannelLost, match="over"):
            waiter.wait(5)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_client_reuses_its_connection_and_renews_before_the_two_hour_cap(server):
    clock = Clock()
    client = answers.AnswersClient(server.url, signer, clock)
    first = client.channel()
    clock.now += 30
    assert client.channel() is first  # warm: reused
    waiter = first.expect("in flight")
    clock.now = first.opened + answers.RENEW_AFTER_SECONDS
    # Keep the quiet-probe out of it: traffic just now.
    first.last_received = first.last_sent = clock.now - 1
    second = client.channel()
    assert second is not first and client.connects == 2
    assert not first.closed.is_set()  # its waiter still waits there
    server.connections["conn-1="].send(answer("in flight"))
    with waiter:
        assert waiter.wait(5).request_id == "in flight"
    first.closed.wait(5)
    assert first.closed.is_set()  # retired, closed with its last waiter
    client.close()


def test_a_connection_idle_for_nine_minutes_is_replaced(server):
    clock = Clock()
    client = answers.AnswersClient(server.url, signer, clock)
    first = client.channel()
    clock.now += answers.IDLE_RENEW_SECONDS  # a frozen container, say
    second = client.channel()
    assert second is not first and first.closed.wait(5)
    client.close()


def test_after_a_quiet_minute_the_connection_is_probed_before_use(server):
    clock = Clock()
    client = answers.AnswersClient(server.url, signer, clock)
    first = client.channel()
    clock.now += answers.PROBE_AFTER_SECONDS
    assert client.channel() is first
    assert server.received.count(protocol.whoami_message()) == 2
    # A probe that gets no answer: a new connection.
    server.answer_whoami = False
    clock.now += answers.PROBE_AFTER_SECONDS
    with pytest.raises(answers.ChannelLost):  # and the new one cannot learn its id either
        client.channel()
    assert first.closed.is_set()


def test_a_closed_connection_is_replaced_by_the_next_request(server):
    client = answers.AnswersClient(server.url, signer)
    first = client.channel()
    server.connections[first.connection_id].close()
    first.closed.wait(5)
    second = client.channel()
    assert second is not first and second.connection_id == "conn-2="
    client.close()
