"""forwarding's own answers connection, through the harness's real answers API: a cold
container connects (signed) on its first request and is answered; a socket lost while a
request waits ends in a clear 502 at once, and the next request connects again; an unsigned
upgrade is refused."""

from __future__ import annotations

import base64

import pytest
from tunnel_shared import answers, resources

from tests.functions.agents import connect
from tests.functions.events import http_event
from tests.functions.test_tunnel_round_trip import answer_requests, request_in_flight


def cold_container() -> None:
    """As a new execution environment: no answers connection yet."""
    client = resources._created.pop("answers-client", None)
    if client is not None:
        client.close()


def test_a_cold_containers_first_request_is_answered(functions):
    connection_id, _ = connect(functions, "cody", "cold")
    cold_container()
    upgrades = len(functions.answers.upgrades)
    agent = answer_requests(functions, connection_id, body=b"first")
    answer = functions.invoke("forwarding", http_event("cold"))
    agent.join()
    assert answer["statusCode"] == 200, answer
    assert base64.b64decode(answer["body"]) == b"first"
    assert functions.answers.upgrades[upgrades:] == [101]  # one signed connect, accepted
    # Warm: the next request reuses it.
    agent = answer_requests(functions, connection_id, body=b"second")
    assert functions.invoke("forwarding", http_event("cold"))["statusCode"] == 200
    agent.join()
    assert len(functions.answers.upgrades) == upgrades + 1


def test_a_socket_lost_mid_request_ends_in_a_clear_502_at_once(functions, monkeypatch):
    # A deadline far beyond the join below: the 502 must come from the loss, not the clock.
    monkeypatch.setattr(functions.modules["forwarding"], "DEADLINE_SECONDS", 25)
    connection_id, _ = connect(functions, "lost", "lost")
    waiting, answers_seen, request = request_in_flight(functions, connection_id, "lost")
    functions.answers.drop(request["replyTo"])
    waiting.join(10)
    assert not waiting.is_alive()
    answer = answers_seen[0]
    assert answer["statusCode"] == 502
    assert answer["headers"]["x-tunnel-error"] == "answer-channel-lost"
    assert "answer channel" in answer["body"] and "Traceback" not in answer["body"]
    # The next request opens a new connection and is answered.
    agent = answer_requests(functions, connection_id, body=b"again")
    assert functions.invoke("forwarding", http_event("lost"))["statusCode"] == 200
    agent.join()


def test_an_unsigned_upgrade_is_refused(functions):
    with pytest.raises(answers.ChannelLost, match=r"refused the connection \(403\)"):
        answers.open_channel(functions.answers.url, None)
    assert functions.answers.upgrades[-1] == 403
