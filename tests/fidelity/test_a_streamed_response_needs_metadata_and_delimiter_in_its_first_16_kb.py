"""rules.check_stream_prelude: a Lambda proxy integration with ResponseTransferMode STREAM needs
the function's JSON metadata (statusCode, headers, multiValueHeaders, cookies only) then 8 null
bytes within the first 16 KB of its stream, or API Gateway answers 500. Through a deployed
function's worker: tests/gateway/test_streamed_invocation.py
(test_a_stream_without_metadata_and_delimiter_is_refused_with_a_500)."""

from __future__ import annotations

import pytest
from tunnel_shared.limits import STREAM_PRELUDE_MAX_BYTES
from tunnel_shared.streaming_runtime import prelude

from aws_fidelity import rules

DELIMITER = b"\0" * 8


def refused(head: bytes, ended: bool = False) -> rules.Refused:
    with pytest.raises(rules.Refused) as caught:
        rules.check_stream_prelude(head, ended)
    assert caught.value.status == 500
    return caught.value


def test_what_the_streaming_runtime_sends_is_accepted():
    head = prelude(201, [("A", "1"), ("B", "2"), ("B", "3")], ["c=1"]) + b"body"
    metadata, used = rules.check_stream_prelude(head, ended=False)
    assert metadata == {
        "statusCode": 201,
        "headers": {"A": "1"},
        "multiValueHeaders": {"B": ["2", "3"]},
        "cookies": ["c=1"],
    }
    assert head[used:] == b"body"


def test_the_delimiter_may_still_come_within_16_kb():
    assert rules.check_stream_prelude(b'{"statusCode": 200}', ended=False) is None


def test_no_delimiter_in_the_first_16_kb_is_refused():
    assert "no delimiter" in refused(b"x" * STREAM_PRELUDE_MAX_BYTES).message
    # A delimiter that only ends after byte 16,384 is too late.
    late = b'{"headers": {"X": "' + b"y" * STREAM_PRELUDE_MAX_BYTES + b'"}}' + DELIMITER
    refused(late)


def test_a_stream_that_ends_without_its_metadata_is_refused():
    assert "ended" in refused(b"plain body", ended=True).message


@pytest.mark.parametrize(
    "metadata",
    [
        b"not json",
        b"[200]",
        b'{"statusCode": 200, "body": "x"}',
        b'{"statusCode": "200"}',
        b'{"headers": {"X": ["a", "b"]}}',
        b'{"multiValueHeaders": {"X": "a"}}',
        b'{"cookies": "c=1"}',
    ],
)
def test_metadata_api_gateway_does_not_support_is_refused(metadata: bytes):
    refused(metadata + DELIMITER + b"body")
