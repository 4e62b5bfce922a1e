"""Every protocol message round-trips: what a builder writes, its parser reads back as the
builder's arguments (tunnel_shared.protocol). And one requestId rule for both directions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tunnel_shared import protocol
from tunnel_shared.protocol import (
    MAX_REASON_CHARS,
    MAX_REQUEST_ID_CHARS,
    ProtocolError,
    StoredBody,
)

REQUEST_IDS = st.text(min_size=1, max_size=MAX_REQUEST_ID_CHARS)
HEADERS = st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=6)
METHODS = st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}", fullmatch=True)
REASONS = st.text(max_size=MAX_REASON_CHARS)
COUNTS = st.none() | st.integers(min_value=1, max_value=10**6)
REPLY_TEXT = st.text(min_size=1, max_size=protocol.MAX_REPLY_CHARS)
REPLIES = st.none() | st.builds(protocol.Reply, REPLY_TEXT, REPLY_TEXT)


def as_agent_sends(text: str) -> dict:
    return protocol.parse_agent_message(text)


def as_server_sends(text: str) -> dict:
    return protocol.parse_server_message(text)


def test_ready_round_trips():
    message = as_agent_sends(protocol.ready_message())
    assert protocol.parse_ready(message) == protocol.Ready()


def test_ping_round_trips():
    message = as_agent_sends(protocol.ping_message())
    assert protocol.parse_ping(message) == protocol.Ping()


@given(
    request_id=REQUEST_IDS,
    status=st.integers(min_value=protocol.MIN_STATUS, max_value=protocol.MAX_STATUS),
    headers=HEADERS,
    body=st.binary(max_size=200),
    stored=st.none() | st.integers(min_value=0, max_value=10**9),
    reply=REPLIES,
)
def test_response_round_trips(request_id, status, headers, body, stored, reply):
    text = protocol.response_message(request_id, status, headers, body, stored, reply)
    parsed = protocol.parse_response(as_agent_sends(text))
    expected_body = body if stored is None else b""
    assert parsed == protocol.Response(request_id, status, headers, expected_body, stored, reply)


@given(
    request_id=REQUEST_IDS,
    status=st.integers(min_value=protocol.MIN_STATUS, max_value=protocol.MAX_STATUS),
    headers=HEADERS,
    body=st.binary(max_size=200),
    stored=st.none() | st.integers(min_value=0, max_value=10**9),
)
def test_answer_round_trips(request_id, status, headers, body, stored):
    text = protocol.answer_message(request_id, status, headers, body, stored)
    parsed = protocol.parse_answer(as_server_sends(text))
    expected_body = body if stored is None else b""
    assert parsed == protocol.Response(request_id, status, headers, expected_body, stored)


def test_whoami_round_trips():
    message = json.loads(protocol.whoami_message())
    assert message["action"] in protocol.ANSWERS_ACTIONS
    assert protocol.parse_whoami(message) is None


@given(connection_id=REPLY_TEXT)
def test_you_round_trips(connection_id):
    message = as_server_sends(protocol.you_message(connection_id))
    assert protocol.parse_you(message) == protocol.You(connection_id)


@pytest.mark.parametrize(
    "fields",
    [
        {"replyTo": "abc"},
        {"replyMac": "abc"},
        {"replyTo": "", "replyMac": "m"},
        {"replyTo": 7, "replyMac": "m"},
        {"replyTo": "a" * 129, "replyMac": "m"},
    ],
)
def test_reply_fields_come_both_and_as_text(fields):
    with pytest.raises(ProtocolError, match="replyTo and replyMac"):
        protocol.parse_response({"action": "response", "requestId": "r", "status": 200, **fields})


@given(subdomain=st.text(max_size=63), url=st.text(min_size=1, max_size=200))
def test_registered_round_trips(subdomain, url):
    message = as_server_sends(protocol.registered_message(subdomain, url))
    assert protocol.parse_registered(message) == protocol.Registered(subdomain, url)


@given(
    request_id=REQUEST_IDS,
    method=METHODS,
    raw_path=st.text(max_size=80),
    raw_query=st.text(max_size=80),
    headers=HEADERS,
    cookies=st.lists(st.text(max_size=30), max_size=4),
    body=st.binary(max_size=200),
    response_url=st.text(max_size=60),
    stored=st.none()
    | st.builds(
        StoredBody,
        st.from_regex(r"https?://[a-z0-9.]{1,30}/[ -~]{0,40}", fullmatch=True),
        st.integers(min_value=0, max_value=10**9),
    ),
    deadline_ms=st.none() | st.integers(min_value=0, max_value=10**6),
    in_flight=COUNTS,
    reply=REPLIES,
)
def test_request_round_trips(
    request_id,
    method,
    raw_path,
    raw_query,
    headers,
    cookies,
    body,
    response_url,
    stored,
    deadline_ms,
    in_flight,
    reply,
):
    text = protocol.request_message(
        request_id,
        method,
        raw_path,
        raw_query,
        headers,
        cookies,
        body,
        response_url,
        stored,
        deadline_ms=deadline_ms,
        in_flight_per_tunnel=in_flight,
        reply=reply,
    )
    parsed = protocol.parse_request(as_server_sends(text))
    assert parsed == protocol.Request(
        request_id,
        method,
        raw_path,
        raw_query,
        headers,
        cookies,
        body if stored is None else b"",
        response_url,
        stored,
        deadline_ms,
        in_flight,
        reply,
    )


def test_replaced_round_trips():
    message = as_server_sends(protocol.replaced_message())
    assert protocol.parse_replaced(message) == protocol.Replaced()


@given(reason=REASONS)
def test_closed_round_trips(reason):
    message = as_server_sends(protocol.closed_message(reason))
    assert protocol.parse_closed(message) == protocol.Closed(reason)


@given(reason=REASONS)
def test_rejected_round_trips(reason):
    message = as_server_sends(protocol.rejected_message(reason))
    assert protocol.parse_rejected(message) == protocol.Rejected(reason)


@given(reason=st.text(min_size=MAX_REASON_CHARS + 1, max_size=MAX_REASON_CHARS + 50))
def test_a_reason_is_cut_to_its_limit_by_the_builder(reason):
    parsed = protocol.parse_closed(as_server_sends(protocol.closed_message(reason)))
    assert parsed.reason == reason[:MAX_REASON_CHARS]


@pytest.mark.parametrize("value", ["", "x" * (MAX_REQUEST_ID_CHARS + 1), None, 7, ["a"]])
def test_one_request_id_rule_for_requests_and_responses(value):
    assert protocol.valid_request_id(value) is None
    with pytest.raises(ProtocolError, match="requestId"):
        protocol.parse_response({"action": "response", "requestId": value, "status": 200})
    with pytest.raises(ProtocolError, match="requestId"):
        protocol.parse_request({"type": "request", "requestId": value, "method": "GET"})


def test_a_parser_refuses_another_kind_of_message():
    with pytest.raises(ProtocolError, match="'closed'"):
        protocol.parse_closed(as_server_sends(protocol.rejected_message("no")))
    with pytest.raises(ProtocolError, match="'ready'"):
        protocol.parse_ready(as_agent_sends(protocol.ping_message()))


# Streamed answers -------------------------------------------------------------------------------

SEQS = st.integers(min_value=0, max_value=protocol.MAX_SEQ)
ERRORS = st.none() | st.text(min_size=1, max_size=MAX_REASON_CHARS)


@given(
    request_id=REQUEST_IDS,
    status=st.integers(min_value=protocol.MIN_STATUS, max_value=protocol.MAX_STATUS),
    headers=HEADERS,
    reply=REPLIES,
)
def test_a_streamed_head_round_trips_both_ways(request_id, status, headers, reply):
    text = protocol.response_message(request_id, status, headers, b"", reply=reply, streamed=True)
    assert "body" not in json.loads(text) and "bodyStored" not in json.loads(text)
    parsed = protocol.parse_response(as_agent_sends(text))
    assert parsed == protocol.Response(request_id, status, headers, b"", None, reply, True)
    answer = protocol.answer_message(request_id, status, headers, b"", streamed=True)
    assert protocol.parse_answer(as_server_sends(answer)) == protocol.Response(
        request_id, status, headers, b"", streamed=True
    )


@given(request_id=REQUEST_IDS, seq=SEQS, data=st.binary(max_size=300), reply=REPLIES)
def test_a_chunk_round_trips_both_ways(request_id, seq, data, reply):
    parsed = protocol.parse_chunk(
        as_agent_sends(protocol.chunk_message(request_id, seq, data, reply))
    )
    assert parsed == protocol.Chunk(request_id, seq, data, reply)
    answer = as_server_sends(protocol.answer_chunk_message(request_id, seq, data))
    assert protocol.parse_answer_chunk(answer) == protocol.Chunk(request_id, seq, data)


@given(request_id=REQUEST_IDS, chunks=SEQS, error=ERRORS, reply=REPLIES)
def test_an_end_round_trips_both_ways(request_id, chunks, error, reply):
    parsed = protocol.parse_end(
        as_agent_sends(protocol.end_message(request_id, chunks, error, reply))
    )
    assert parsed == protocol.End(request_id, chunks, error, reply)
    assert parsed.ok is (error is None)
    answer = as_server_sends(protocol.answer_end_message(request_id, chunks, error))
    assert protocol.parse_answer_end(answer) == protocol.End(request_id, chunks, error)


def test_an_end_with_an_empty_error_is_still_an_error():
    assert protocol.parse_end(as_agent_sends(protocol.end_message("r", 3, ""))).ok is False


@given(request_id=REQUEST_IDS)
def test_a_cancel_round_trips(request_id):
    message = as_server_sends(protocol.cancel_message(request_id))
    assert message["type"] in protocol.TYPES
    assert protocol.parse_cancel(message) == protocol.Cancel(request_id)


@given(stream=st.booleans())
def test_a_request_says_stream_only_when_it_streams(stream):
    text = protocol.request_message("r", "GET", "/", "", [], [], b"", stream=stream)
    assert ("stream" in json.loads(text)) is stream
    assert protocol.parse_request(as_server_sends(text)).stream is stream


@given(
    request_id=st.text(min_size=1, max_size=MAX_REQUEST_ID_CHARS),
    reply=REPLIES,
)
def test_a_chunk_at_its_capacity_fits_a_message_and_so_does_its_answer(request_id, reply):
    capacity = protocol.chunk_capacity(request_id, reply)
    data = b"\xff" * capacity
    text = protocol.chunk_message(request_id, protocol.MAX_SEQ, data, reply)
    assert len(text.encode()) <= protocol.MAX_MESSAGE_BYTES
    answer = protocol.answer_chunk_message(request_id, protocol.MAX_SEQ, data)
    assert len(answer.encode()) <= protocol.MAX_MESSAGE_BYTES
    # And it is not wasteful: three bytes more would not fit one or the other.
    more = data + b"123"
    assert (
        max(
            len(protocol.chunk_message(request_id, protocol.MAX_SEQ, more, reply).encode()),
            len(protocol.answer_chunk_message(request_id, protocol.MAX_SEQ, more).encode()),
        )
        > protocol.MAX_MESSAGE_BYTES
    )


def test_an_ordinary_request_id_carries_over_95_kb_a_chunk():
    reply = protocol.Reply("a" * 16, "m" * 43)
    assert protocol.chunk_capacity("0123456789abcdef0123456789abcdef", reply) > 95 * 1024


@pytest.mark.parametrize(
    ("parse", "message", "problem"),
    [
        (protocol.parse_chunk, {"action": "chunk", "requestId": "r", "data": ""}, "seq"),
        (protocol.parse_chunk, {"action": "chunk", "requestId": "r", "seq": -1}, "seq"),
        (protocol.parse_chunk, {"action": "chunk", "requestId": "r", "seq": True}, "seq"),
        (protocol.parse_chunk, {"action": "chunk", "requestId": "r", "seq": 0}, "without data"),
        (
            protocol.parse_chunk,
            {"action": "chunk", "requestId": "r", "seq": 0, "data": "*"},
            "base64",
        ),
        (protocol.parse_chunk, {"action": "chunk", "seq": 0, "data": ""}, "requestId"),
        (protocol.parse_end, {"action": "end", "requestId": "r"}, "chunks"),
        (protocol.parse_end, {"action": "end", "requestId": "r", "chunks": "3"}, "chunks"),
        (
            protocol.parse_end,
            {"action": "end", "requestId": "r", "chunks": 1, "error": ""},
            "error",
        ),
        (protocol.parse_end, {"action": "end", "requestId": "r", "chunks": 1, "error": 5}, "error"),
        (protocol.parse_cancel, {"type": "cancel", "requestId": ""}, "requestId"),
        (
            protocol.parse_response,
            {"action": "response", "requestId": "r", "status": 200, "streamed": True, "body": ""},
            "no body",
        ),
        (
            protocol.parse_response,
            {"action": "response", "requestId": "r", "status": 200, "streamed": "yes"},
            "streamed",
        ),
        (
            protocol.parse_request,
            {"type": "request", "requestId": "r", "method": "GET", "stream": 1},
            "stream",
        ),
    ],
)
def test_a_malformed_streaming_message_is_one_clear_line(parse, message, problem):
    with pytest.raises(ProtocolError, match=problem) as raised:
        parse(message)
    assert "\n" not in str(raised.value)


def test_the_agent_may_send_chunks_and_ends():
    for text in (protocol.chunk_message("r", 0, b"x"), protocol.end_message("r", 1)):
        assert as_agent_sends(text)["action"] in protocol.ACTIONS
