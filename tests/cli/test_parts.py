"""The agent's pure parts: framing, header rules, token claims, request messages."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tunnel_shared import protocol
from tunnel_shared.limits import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES
from tunnel_shared.tokens import TokenError, read_claims

from tests.cli.harness import make_token
from tunnel_cli.agent import connection_url
from tunnel_cli.forward import LocalRequest, LocalResponse, request_headers
from tunnel_cli.frames import FRAME_PAYLOAD_BYTES, fragments
from tunnel_cli.messages import MessageError, parse_request, reply_of, response_text


@given(st.text(max_size=300), st.integers(min_value=4, max_value=40))
def test_fragments_rejoin_and_respect_the_byte_limit(text, limit):
    pieces = fragments(text, limit)
    assert "".join(pieces) == text
    assert all(len(piece.encode()) <= limit for piece in pieces)
    assert all(pieces) or pieces == [""]


def test_default_fragments_fit_a_32_kb_frame_with_its_header():
    pieces = fragments("x" * (100 * 1024))
    assert max(len(piece) for piece in pieces) == FRAME_PAYLOAD_BYTES
    assert FRAME_PAYLOAD_BYTES + 14 <= MAX_FRAME_BYTES


def request(**fields):
    values = {
        "method": "GET",
        "raw_path": "/",
        "raw_query_string": "",
        "headers": [],
        "cookies": [],
        "body": b"",
    }
    values.update(fields)
    return LocalRequest(**values)


def test_content_length_is_recomputed_and_only_where_due():
    assert request_headers(request(headers=[("host", "h")]), "127.0.0.1:1") == [("host", "h")]
    assert ("Content-Length", "0") in request_headers(request(method="POST"), "l")
    sent = request_headers(request(body=b"abc", headers=[("content-length", "7")]), "l")
    assert [v for n, v in sent if n.lower() == "content-length"] == ["3"]


def test_a_request_without_host_gets_the_local_one():
    assert request_headers(request(), "127.0.0.1:8080")[0] == ("Host", "127.0.0.1:8080")


def test_cookie_header_is_kept_when_no_cookies_list_came():
    sent = request_headers(request(headers=[("host", "h"), ("cookie", "a=1")]), "l")
    assert ("cookie", "a=1") in sent


def test_claims_are_read_without_the_key():
    claims = read_claims(make_token("demo-2", key="any key at all"))
    assert (claims.subject, claims.subdomain) == ("tester", "demo-2")
    with pytest.raises(TokenError, match="malformed"):
        read_claims("v1.!!!.sig")


def test_token_and_session_go_in_the_query_string():
    assert (
        connection_url("wss://x.example/dev", "v1.a.b", "s-1")
        == "wss://x.example/dev?token=v1.a.b&session=s-1"
    )
    assert connection_url("ws://h:1/dev?a=1", "t", "s") == "ws://h:1/dev?a=1&token=t&session=s"


def test_malformed_request_messages_are_refused():
    message = json.loads(protocol.request_message("r1", "GET", "/", "", [("a", "b")], [], b"hi"))
    assert parse_request(message).body == b"hi"
    for field, value in [
        ("method", "G ET"),
        ("headers", [["a"]]),
        ("body", "***"),
        ("cookies", "a=1"),
    ]:
        with pytest.raises(MessageError):
            parse_request({**message, field: value})


def test_response_text_fits_or_is_replaced():
    small = LocalResponse(200, [("a", "b")], b"x" * 1000)
    text, sent = response_text("r1", small)
    assert sent is small and protocol.parse_response(json.loads(text)).body == small.body
    fits = LocalResponse(200, [], b"x" * 97_000)  # 129,336 bytes of base64: just fits
    assert response_text("r1", fits)[1] is fits
    big = LocalResponse(200, [], b"x" * 99_000)
    text, sent = response_text("r1", big)
    assert sent.status == 502 and len(text) <= MAX_MESSAGE_BYTES


def test_the_agent_echoes_the_reply_fields_unchanged():
    reply = protocol.Reply("forwarding-conn=", "bWFjIG9mIHRoZSByZXF1ZXN0")
    request = {"type": "request", "requestId": "r1", "method": "GET", **_reply_fields(reply)}
    echoed = reply_of(request)
    for response in (
        LocalResponse(200, [], b"x"),
        LocalResponse(200, [], b"x" * 99_000),  # replaced by the 502: still echoed
    ):
        text, _ = response_text("r1", response, echoed)
        assert protocol.parse_response(json.loads(text)).reply == reply
        assert len(text.encode()) <= MAX_MESSAGE_BYTES
    # Malformed or missing reply fields: none echoed (the server refuses that answer).
    assert reply_of({"replyTo": 7, "replyMac": "m"}) is None
    assert reply_of({}) is None


def _reply_fields(reply: protocol.Reply) -> dict[str, str]:
    return {"replyTo": reply.reply_to, "replyMac": reply.reply_mac}
