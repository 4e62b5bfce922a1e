"""rules.check_invocation_request: an event whose JSON is over 6,291,456 bytes never reaches the
function: API Gateway answers 413 {"message": "Request Too Long"}. An event of exactly that
size is delivered. The test handler's /event-size answers with its event's size, so the body
that makes an event of a given size is measured, not guessed."""

from __future__ import annotations

import json

import pytest

from aws_fidelity import rules
from tests.gateway.conftest import http_request

LIMIT = 6_291_456
TEXT = [("Content-Type", "text/plain")]


def event_size(gateway, body_bytes: int) -> tuple[int, list[tuple[str, str]], bytes]:
    """POST /event-size with a text body of ``body_bytes`` (text: as is in the event)."""
    return http_request(gateway, "POST", "/event-size", TEXT, b"a" * body_bytes)


def body_for_event_of(gateway, size: int) -> int:
    """The body length that makes an event of ``size`` bytes. A probe's Content-Length has as
    many digits as the answer's (the header is in the event); every other field has a fixed
    length."""
    probe = 1_000_000
    status, _, answer = event_size(gateway, probe)
    assert status == 200, answer
    body = probe + size - int(answer)
    assert len(str(body)) == len(str(probe))
    return body


def test_the_rule():
    rules.check_invocation_request(LIMIT)
    with pytest.raises(rules.Refused) as refused:
        rules.check_invocation_request(LIMIT + 1)
    assert (refused.value.code, refused.value.message, refused.value.status) == (
        "BadRequestException",
        "Request Too Long",
        413,
    )


def test_an_event_of_the_limit_is_delivered_and_one_byte_more_is_refused_413(gateway):
    body = body_for_event_of(gateway, LIMIT)
    status, _, answer = event_size(gateway, body)
    assert (status, answer) == (200, str(LIMIT).encode())

    status, headers, answer = event_size(gateway, body + 1)
    assert status == 413
    assert answer == b'{"message": "Request Too Long"}'  # 31 bytes, as AWS's
    assert json.loads(answer) == {"message": "Request Too Long"}
    assert ("Content-Type", "application/json") in headers
    assert ("x-amzn-errortype", "BadRequestException") in headers
    # Lambda refused it: the function never ran.
    assert f"Request must be smaller than {LIMIT} bytes for the InvokeFunction operation" in (
        gateway.log()
    )


def test_a_binary_body_far_below_10_mb_meets_it_base64_encoded(gateway):
    # 4.8 MB of binary is 6.4 MB of base64 in the event.
    status, _, answer = http_request(
        gateway, "POST", "/event-size", [("Content-Type", "image/png")], b"\x89" * 4_800_000
    )
    assert (status, json.loads(answer)) == (413, {"message": "Request Too Long"})
