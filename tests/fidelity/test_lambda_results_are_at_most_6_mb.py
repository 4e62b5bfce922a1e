"""rules.check_invocation_response: a function result whose JSON is over 6,291,556 bytes is an
invocation error; the HTTP API answers 502 (not the 500 of a handler that raised), and the
WebSocket API's route fails as for any integration error. A result of exactly that size is
delivered. The test handler's /result-size?bytes=N returns a result of N bytes."""

from __future__ import annotations

import json

import pytest

from aws_fidelity import rules
from tests.gateway.conftest import http_request
from tests.gateway.websocket_client import open_socket

LIMIT = 6_291_556
ENVELOPE = len(json.dumps({"statusCode": 200, "body": ""}))
TOO_LARGE = (
    "Function.ResponseSizeTooLarge: Response payload size exceeded maximum allowed payload size "
    "(6291556 bytes)."
)


def test_the_rule():
    rules.check_invocation_response(LIMIT)
    with pytest.raises(rules.Refused) as refused:
        rules.check_invocation_response(LIMIT + 1)
    assert f"{refused.value.code}: {refused.value.message}" == TOO_LARGE
    assert refused.value.status == 502


def test_a_result_of_the_limit_is_delivered(gateway):
    status, _, body = http_request(gateway, "GET", f"/result-size?bytes={LIMIT}")
    assert (status, len(body)) == (200, LIMIT - ENVELOPE)


def test_a_result_one_byte_over_is_a_502(gateway):
    status, _, body = http_request(gateway, "GET", f"/result-size?bytes={LIMIT + 1}")
    assert (status, json.loads(body)) == (502, {"message": "Internal Server Error"})
    assert TOO_LARGE in gateway.log()
    # A handler that raises is still a 500.
    assert http_request(gateway, "GET", "/raise")[0] == 500


def test_on_the_websocket_api_it_is_an_integration_error(gateway):
    with open_socket(gateway, "token=allow") as socket:
        socket.send(json.dumps({"resultSize": LIMIT}))
        answer = json.loads(socket.recv(timeout=10))
        assert answer["message"] == "Internal server error"
        # The connection carries on.
        socket.send(json.dumps({"reply": "still here"}))
        assert socket.recv(timeout=10) == "still here"
