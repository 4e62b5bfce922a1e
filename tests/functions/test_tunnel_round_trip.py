"""forwarding + response, in process: a request crosses to a scripted agent and back."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from tunnel_shared import protocol

from tests.functions.agents import connect
from tests.functions.events import http_event, websocket_event


def answer_requests(
    functions,
    connection_id: str,
    status: int = 200,
    body: bytes = b"ok",
    headers: list[tuple[str, str]] | None = None,
    count: int = 1,
) -> threading.Thread:
    """An agent: waits for request messages and answers through the real response function."""

    def run() -> None:
        answered: set[str] = set()
        deadline = time.monotonic() + 10
        while len(answered) < count and time.monotonic() < deadline:
            for message in functions.endpoint.messages(connection_id):
                if message.get("type") == "request" and message["requestId"] not in answered:
                    answered.add(message["requestId"])
                    reply = protocol.response_message(
                        message["requestId"],
                        status,
                        headers or [("content-type", "text/plain")],
                        body,
                    )
                    functions.invoke("response", websocket_event("$default", connection_id, reply))
            time.sleep(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_ready_is_answered_with_the_public_url(functions):
    connection_id, _ = connect(functions, "gil", "golf")
    answer = functions.invoke(
        "response", websocket_event("$default", connection_id, '{"action":"ready"}')
    )
    assert answer == {"statusCode": 200}
    assert functions.endpoint.messages(connection_id)[-1] == {
        "type": "registered",
        "subdomain": "golf",
        "url": "https://golf.tunnel.test",
    }


def test_a_request_crosses_and_the_response_comes_back(functions):
    connection_id, _ = connect(functions, "hal", "hotel")
    body = bytes(range(256)) * 4
    agent = answer_requests(
        functions,
        connection_id,
        201,
        body,
        [
            ("content-type", "application/octet-stream"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("x-two", "1"),
            ("x-two", "2"),
        ],
    )
    event = http_event(
        "hotel",
        "POST",
        "/p%20ath/x",
        "a=1&a=2&b=%2F",
        {"x-many": "1,2"},
        ["c=3", "d=4"],
        b"\x00\x01payload",
    )
    answer = functions.invoke("forwarding", event)
    agent.join()
    assert answer["statusCode"] == 201
    assert base64.b64decode(answer["body"]) == body and answer["isBase64Encoded"] is True
    assert answer["cookies"] == ["a=1", "b=2"]
    assert answer["headers"]["x-two"] == "1, 2"
    request = next(m for m in functions.endpoint.messages(connection_id) if m["type"] == "request")
    assert request["method"] == "POST"
    assert request["rawPath"] == "/p%20ath/x" and request["rawQueryString"] == "a=1&a=2&b=%2F"
    assert ["x-many", "1,2"] in request["headers"]
    assert request["cookies"] == ["c=3", "d=4"]
    assert base64.b64decode(request["body"]) == b"\x00\x01payload"
    # The pending request is gone once answered.
    assert functions.pending.scan()["Count"] == 0


def test_an_unknown_subdomain_answers_404(functions):
    answer = functions.invoke("forwarding", http_event("nobody-here"))
    assert answer["statusCode"] == 404
    assert "nobody-here" in answer["body"]


def test_a_gone_agent_answers_502_and_its_connection_is_cleaned_up(functions):
    connection_id, _ = connect(functions, "ivy", "india")
    functions.endpoint.gone.add(connection_id)
    answer = functions.invoke("forwarding", http_event("india"))
    assert answer["statusCode"] == 502
    assert "gone" in answer["body"]
    assert "Item" not in functions.connections.get_item(Key={"connectionId": connection_id})


def test_a_request_too_large_for_one_message_answers_413(functions):
    connect(functions, "jo", "juliet")
    answer = functions.invoke("forwarding", http_event("juliet", "POST", body=b"x" * (100 * 1024)))
    assert answer["statusCode"] == 413
    assert "128 KB" in answer["body"]


def test_no_answer_before_the_deadline_is_a_504(functions, monkeypatch):
    connect(functions, "kim", "kilo")
    monkeypatch.setattr(functions.modules["forwarding"], "DEADLINE_SECONDS", 0.3)
    answer = functions.invoke("forwarding", http_event("kilo"))
    assert answer["statusCode"] == 504
    assert functions.pending.scan()["Count"] == 0


def test_another_connection_cannot_answer_someone_elses_request(functions):
    owner, _ = connect(functions, "lu", "lima")
    spoofer, _ = connect(functions, "mallory", "mike")
    functions.pending.put_item(
        Item={
            "requestId": "r-lima",
            "connectionId": owner,
            "status": "pending",
            "ttl": int(time.time()) + 60,
        }
    )
    forged = protocol.response_message("r-lima", 200, [], b"forged")
    answer = functions.invoke("response", websocket_event("$default", spoofer, forged))
    assert answer == {"statusCode": 404}
    assert functions.pending.get_item(Key={"requestId": "r-lima"})["Item"]["status"] == "pending"
    assert functions.endpoint.messages(spoofer)[-1]["type"] == "rejected"
    functions.pending.delete_item(Key={"requestId": "r-lima"})


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "not json",
        "[]",
        '{"action": "dance"}',
        '{"action":"response"}',
        '{"action":"response","requestId":"nope","status":200,"headers":[],"body":""}',
        '{"action":"response","requestId":"x","status":99,"headers":[],"body":""}',
        '{"action":"response","requestId":"x","status":200,"headers":"h","body":""}',
        '{"action":"response","requestId":"x","status":200,"headers":[],"body":"***"}',
        json.dumps({"action": "ping", "pad": "x" * (130 * 1024)}),
    ],
)
def test_bad_messages_are_rejected_and_create_no_item(functions, body):
    connection_id, _ = connect(functions, "nia", "november")
    before = functions.pending.scan()["Count"]
    answer = functions.invoke("response", websocket_event("$default", connection_id, body))
    assert answer["statusCode"] in (400, 404)
    assert functions.pending.scan()["Count"] == before


def test_an_agent_that_disconnects_mid_request_gets_a_502_at_once(functions):
    connection_id, _ = connect(functions, "oz", "oscar")
    answers: list[dict] = []
    waiting = threading.Thread(
        target=lambda: answers.append(functions.invoke("forwarding", http_event("oscar")))
    )
    started = time.monotonic()
    waiting.start()
    time.sleep(0.3)
    functions.invoke("disconnect", websocket_event("$disconnect", connection_id))
    waiting.join(timeout=5)
    assert answers and answers[0]["statusCode"] == 502
    assert time.monotonic() - started < 2
