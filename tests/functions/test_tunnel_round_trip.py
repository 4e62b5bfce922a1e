"""forwarding + response, in process: a request crosses to a scripted agent and back."""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import time
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from tunnel_shared import protocol
from tunnel_shared.connections import claim_key
from tunnel_shared.limits import MAX_BODY_BYTES

from tests.functions.agents import connect
from tests.functions.events import http_event, websocket_event
from tunnel_cli import bodies


def answer_requests(
    functions,
    connection_id: str,
    status: int = 200,
    body: bytes = b"ok",
    headers: list[tuple[str, str]] | None = None,
    count: int = 1,
    received: list[bytes] | None = None,
) -> threading.Thread:
    """An agent: waits for request messages and answers through the real response function.

    Large bodies go as the agent's own code sends them (tunnel_cli.bodies): a stored request
    body is fetched from its presigned GET, into ``received``; a response body too large for a
    message is uploaded to the request's presigned PUT."""

    # Requests already posted before this agent started are someone else's to answer.
    earlier = {m.get("requestId") for m in functions.endpoint.messages(connection_id)}

    def run() -> None:
        answered: set[str] = set()
        deadline = time.monotonic() + 10
        while len(answered) < count and time.monotonic() < deadline:
            for message in functions.endpoint.messages(connection_id):
                request_id = message.get("requestId")
                if message.get("type") == "request" and request_id not in answered | earlier:
                    answered.add(message["requestId"])
                    if received is not None:
                        received.append(request_body(message))
                    reply = response(message, status, headers or [("content-type", "text/plain")])
                    functions.invoke("response", websocket_event("$default", connection_id, reply))
            time.sleep(0.01)

    def response(message: dict, status: int, headers: list[tuple[str, str]]) -> str:
        reply = protocol.reply_of(message)  # echoed unchanged, as the agent does
        if len(body) <= INLINE_BODY_BYTES:
            return protocol.response_message(
                message["requestId"], status, headers, body, reply=reply
            )
        bodies.upload(message["responseBodyUrl"], memoryview(body), len(body), timeout=10)
        return protocol.response_message(
            message["requestId"], status, headers, b"", len(body), reply
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# What the agent sends inline; anything larger goes through S3.
INLINE_BODY_BYTES = 64 * 1024


def request_body(message: dict) -> bytes:
    if "bodyUrl" in message:
        return b"".join(bodies.download(message["bodyUrl"], message["bodyBytes"], timeout=10))
    return base64.b64decode(message["body"])


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
    # Nothing is left waiting once answered.
    assert nobody_waits()


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


def test_bodies_too_large_for_a_message_cross_through_s3_and_are_deleted(functions):
    connection_id, _ = connect(functions, "jo", "juliet")
    upload, download = os.urandom(300_000), os.urandom(700_000)
    received: list[bytes] = []
    agent = answer_requests(functions, connection_id, body=download, received=received)
    answer = functions.invoke("forwarding", http_event("juliet", "POST", body=upload))
    agent.join()
    assert answer["statusCode"] == 200, answer
    assert base64.b64decode(answer["body"]) == download
    assert received == [upload]
    request = next(m for m in functions.endpoint.messages(connection_id) if m["type"] == "request")
    assert "body" not in request and request["bodyBytes"] == len(upload)
    assert stored_bodies(functions) == []
    assert nobody_waits()


def test_each_request_carries_urls_for_one_object_each_valid_for_seconds(functions):
    connection_id, _ = connect(functions, "jo", "juliet")
    agent = answer_requests(functions, connection_id, received=[])
    functions.invoke("forwarding", http_event("juliet", "POST", body=os.urandom(200_000)))
    agent.join()
    request = [m for m in functions.endpoint.messages(connection_id) if m["type"] == "request"][-1]
    for url, part in ((request["bodyUrl"], "request"), (request["responseBodyUrl"], "response")):
        parts = urlsplit(url)
        assert parts.path.endswith(f"/spill/{request['requestId']}/{part}")
        assert parse_qs(parts.query)["X-Amz-Expires"] == ["30"]
    # The PUT URL does not read, and the GET URL reads nothing but its own object.
    assert fetch("GET", request["responseBodyUrl"])[0] == 403
    other = request["bodyUrl"].replace("/request?", "/response?")
    assert fetch("GET", other)[0] == 403


def fetch(method: str, url: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request(method, f"{parts.path}?{parts.query}")
    answer = connection.getresponse()
    return answer.status, answer.read()


def stored_bodies(functions) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=functions.bodies_bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_a_request_body_over_the_ceiling_answers_413_and_stores_nothing(functions):
    connect(functions, "jo", "juliet")
    answer = functions.invoke(
        "forwarding", http_event("juliet", "POST", body=b"x" * (MAX_BODY_BYTES + 1))
    )
    assert answer["statusCode"] == 413
    assert f"{MAX_BODY_BYTES:,} bytes" in answer["body"]
    assert stored_bodies(functions) == []


def test_no_answer_before_the_deadline_is_a_504(functions, monkeypatch):
    connect(functions, "kim", "kilo")
    monkeypatch.setattr(functions.modules["forwarding"], "DEADLINE_SECONDS", 0.3)
    answer = functions.invoke("forwarding", http_event("kilo"))
    assert answer["statusCode"] == 504
    assert nobody_waits()


def nobody_waits() -> bool:
    """No invocation waits on this process's answers connection (its waiters are gone)."""
    from tunnel_shared.resources import answers_client

    current = answers_client()._current
    return current is None or current.waiting == 0


def request_in_flight(functions, connection_id: str, subdomain: str):
    """A public request posted to ``connection_id``'s agent, still waiting: its thread, its
    answer (once there) and the request message the agent got."""
    earlier = len(functions.endpoint.messages(connection_id))
    answers: list[dict] = []
    waiting = threading.Thread(
        target=lambda: answers.append(functions.invoke("forwarding", http_event(subdomain))),
        daemon=True,
    )
    waiting.start()
    deadline = time.monotonic() + 10
    while len(functions.endpoint.messages(connection_id)) == earlier:
        assert time.monotonic() < deadline, "the request never reached the agent"
        time.sleep(0.01)
    return waiting, answers, functions.endpoint.messages(connection_id)[-1]


def test_another_tunnels_agent_cannot_answer_a_request(functions, monkeypatch):
    monkeypatch.setattr(functions.modules["forwarding"], "DEADLINE_SECONDS", 3)
    owner, _ = connect(functions, "lu", "lima")
    spoofer, _ = connect(functions, "mallory", "mike")
    waiting, answers, request = request_in_flight(functions, owner, "lima")
    delivered = len(functions.answers.delivered)
    # The spoofer echoes the request's own reply fields, as if it had been sent to it.
    forged = protocol.response_message(
        request["requestId"], 200, [], b"forged", reply=protocol.reply_of(request)
    )
    answer = functions.invoke("response", websocket_event("$default", spoofer, forged))
    assert answer == {"statusCode": 403}
    assert functions.endpoint.messages(spoofer)[-1]["type"] == "rejected"
    assert len(functions.answers.delivered) == delivered  # nothing reached the waiting caller
    # The owner's own answer still gets through.
    reply = protocol.response_message(
        request["requestId"], 200, [], b"real", reply=protocol.reply_of(request)
    )
    assert functions.invoke("response", websocket_event("$default", owner, reply)) == {
        "statusCode": 200
    }
    waiting.join(10)
    assert base64.b64decode(answers[0]["body"]) == b"real"


def test_a_forged_reply_address_is_refused(functions, monkeypatch):
    monkeypatch.setattr(functions.modules["forwarding"], "DEADLINE_SECONDS", 0.5)
    owner, _ = connect(functions, "lu", "lima")
    waiting, answers, request = request_in_flight(functions, owner, "lima")
    sent = protocol.reply_of(request)
    assert sent is not None
    delivered = len(functions.answers.delivered)
    for forged in (
        protocol.Reply("answers9999=", sent.reply_mac),  # another address, the same MAC
        protocol.Reply(sent.reply_to, sent.reply_mac[:-2] + "AA"),  # a MAC of its own
        None,  # no reply fields at all
    ):
        text = protocol.response_message(request["requestId"], 200, [], b"x", reply=forged)
        answer = functions.invoke("response", websocket_event("$default", owner, text))
        assert answer == {"statusCode": 403}, forged
        assert functions.endpoint.messages(owner)[-1]["type"] == "rejected"
    assert len(functions.answers.delivered) == delivered
    waiting.join(10)
    assert answers[0]["statusCode"] == 504


def test_an_answer_for_a_request_that_ended_is_dropped(functions, monkeypatch):
    monkeypatch.setattr(functions.modules["forwarding"], "DEADLINE_SECONDS", 0.3)
    owner, _ = connect(functions, "lu", "lima")
    waiting, answers, request = request_in_flight(functions, owner, "lima")
    waiting.join(10)
    assert answers[0]["statusCode"] == 504
    from tunnel_shared.resources import answers_client

    channel = answers_client()._current
    dropped = channel.dropped
    late = protocol.response_message(
        request["requestId"], 200, [], b"late", reply=protocol.reply_of(request)
    )
    # Posted to a connection still open (this warm container's), nobody waits: dropped there.
    assert functions.invoke("response", websocket_event("$default", owner, late)) == {
        "statusCode": 200
    }
    deadline = time.monotonic() + 5
    while channel.dropped == dropped and time.monotonic() < deadline:
        time.sleep(0.01)
    assert channel.dropped == dropped + 1
    # And to one that is gone (the container ended): API Gateway's 410, dropped and logged.
    functions.answers.refused.add(request["replyTo"])
    assert functions.invoke("response", websocket_event("$default", owner, late)) == {
        "statusCode": 200
    }


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
    before = len(functions.answers.delivered)
    answer = functions.invoke("response", websocket_event("$default", connection_id, body))
    assert answer["statusCode"] in (400, 403, 404)
    assert len(functions.answers.delivered) == before


def test_an_agent_that_disconnects_mid_request_gets_a_502_at_once(functions):
    connection_id, _ = connect(functions, "oz", "oscar")
    answers: list[dict] = []
    waiting = threading.Thread(
        target=lambda: answers.append(functions.invoke("forwarding", http_event("oscar")))
    )
    started = time.monotonic()
    waiting.start()
    time.sleep(0.3)
    # The connection closed: API Gateway answers 410 for it, and $disconnect runs.
    functions.endpoint.gone.add(connection_id)
    functions.invoke("disconnect", websocket_event("$disconnect", connection_id))
    waiting.join(timeout=5)
    assert answers and answers[0]["statusCode"] == 502
    assert time.monotonic() - started < 2


def test_an_expired_tokens_connection_is_told_closed_and_routes_nothing(functions):
    connection_id, _ = connect(functions, "kim", "kilo")
    functions.connections.update_item(
        Key=claim_key("kilo"),
        UpdateExpression="SET expires = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )
    answer = functions.invoke("forwarding", http_event("kilo"))
    assert answer["statusCode"] == 404
    assert functions.endpoint.messages(connection_id)[-1]["type"] == "closed"
    assert "expired" in functions.endpoint.messages(connection_id)[-1]["reason"]
    assert connection_id in functions.endpoint.closed


def test_routing_follows_the_claim_not_the_newest_connection_item(functions):
    owner, _ = connect(functions, "lu", "lima2")
    # A connection item for the same subdomain that does not own the claim (an interleaved
    # connect, or one whose claim was released) gets nothing.
    functions.connections.put_item(
        Item={
            "connectionId": "not-the-owner=",
            "publicSubdomain": "lima2",
            "connectedAt": int(time.time()) + 100,
            "ttl": int(time.time()) + 600,
        }
    )
    agent = answer_requests(functions, owner)
    assert functions.invoke("forwarding", http_event("lima2"))["statusCode"] == 200
    agent.join()
    assert functions.endpoint.messages("not-the-owner=") == []


def test_the_tunnel_sets_the_forwarded_headers_replacing_the_callers(functions):
    connection_id, _ = connect(functions, "mo", "mike")
    agent = answer_requests(functions, connection_id)
    event = http_event("mike", headers={"x-forwarded-host": "evil.example", "forwarded": "for=1"})
    functions.invoke("forwarding", event)
    agent.join()
    request = [m for m in functions.endpoint.messages(connection_id) if m["type"] == "request"][0]
    headers = dict(map(tuple, request["headers"]))
    assert headers["x-forwarded-host"] == "mike.tunnel.test"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-for"] == event["requestContext"]["http"]["sourceIp"]
    assert "forwarded" not in headers
    assert [name for name, _ in request["headers"]].count("x-forwarded-host") == 1


@pytest.mark.parametrize(
    ("set_cookie", "sent"),
    [
        ("a=1; Domain=tunnel.test; Path=/", "a=1; Path=/"),
        ("b=2; domain=.other.tunnel.test; HttpOnly", "b=2; HttpOnly"),
        ("c=3; Domain=nova.tunnel.test; Secure", "c=3; Domain=nova.tunnel.test; Secure"),
        ("d=4", "d=4"),
    ],
)
def test_cookies_are_host_only_for_the_tunnels_own_host(functions, set_cookie, sent):
    connection_id, _ = connect(functions, "ned", "nova")
    agent = answer_requests(functions, connection_id, headers=[("set-cookie", set_cookie)])
    answer = functions.invoke("forwarding", http_event("nova"))
    agent.join()
    assert answer["cookies"] == [sent]
