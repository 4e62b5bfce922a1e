"""A same-session reconnect moves the claim to the new connection; the old one stays open and
answers what it was sent. Forwarding takes a claim that names another connection as a reason to
ask GetConnection, and only its 410 as "gone"."""

from __future__ import annotations

import threading
import time

from tunnel_shared import protocol

from tests.functions.agents import connect
from tests.functions.events import http_event, websocket_event


def wait_for(condition, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.01)


def test_a_request_in_flight_survives_a_same_session_reconnect(functions):
    old, _ = connect(functions, "rover", "roaming")
    answers: list[dict] = []
    waiting = threading.Thread(
        target=lambda: answers.append(functions.invoke("forwarding", http_event("roaming"))),
        daemon=True,
    )
    waiting.start()
    wait_for(lambda: functions.endpoint.messages(old), "the request to reach the old connection")
    (request,) = functions.endpoint.messages(old)

    asked_before = functions.endpoint.described.count(old)
    new, answer = connect(functions, "rover", "roaming")  # the same session: the claim moves
    assert answer == {"statusCode": 200} and new != old
    # Forwarding notices the claim moved: it asks API Gateway about the old connection (or, as
    # it did, gives up on it with a 502).
    wait_for(
        lambda: answers or functions.endpoint.described.count(old) > asked_before,
        "forwarding to look at the old connection",
    )
    assert not answers, f"gave up on a live connection: {answers}"

    reply = protocol.response_message(
        request["requestId"], 200, [], b"from the old connection", reply=protocol.reply_of(request)
    )
    assert functions.invoke("response", websocket_event("$default", old, reply)) == {
        "statusCode": 200
    }
    waiting.join(10)
    assert answers and answers[0]["statusCode"] == 200


def test_a_request_whose_connection_is_gone_gets_502_once_api_gateway_says_410(functions):
    old, _ = connect(functions, "rover", "leaving")
    answers: list[dict] = []
    waiting = threading.Thread(
        target=lambda: answers.append(functions.invoke("forwarding", http_event("leaving"))),
        daemon=True,
    )
    waiting.start()
    wait_for(lambda: functions.endpoint.messages(old), "the request to reach the connection")
    functions.endpoint.gone.add(old)
    functions.invoke("disconnect", websocket_event("$disconnect", old))
    waiting.join(10)
    assert answers and answers[0]["statusCode"] == 502
    assert "gone" in answers[0]["body"]
