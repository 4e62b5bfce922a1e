"""rules.check_http_api_payload: a body over 10 MiB is answered by the HTTP API itself, 413 in
plain text, whether its length is announced (Content-Length) or chunked; 10 MiB exactly passes
(and then meets Lambda's limit on the event)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from aws_fidelity import rules
from local_gateway import testing
from tests.gateway.conftest import SUBDOMAIN, http_request

LIMIT = 10 * 1024 * 1024
EXCEEDED = b"HTTP content length exceeded 10485760 bytes."
BINARY = [("Content-Type", "application/octet-stream")]


def header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name]


def chunked_request(
    gateway: testing.GatewayProcess, chunks: Iterator[bytes]
) -> tuple[int, list[tuple[str, str]], bytes]:
    """A POST whose body goes as chunks (Transfer-Encoding: chunked, no Content-Length)."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        connection.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", gateway.host(SUBDOMAIN))
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders(chunks, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def megabytes(total: int, size: int = 1024 * 1024) -> Iterator[bytes]:
    while total > 0:
        yield b"x" * min(size, total)
        total -= size


def test_the_rule():
    rules.check_http_api_payload(0)
    rules.check_http_api_payload(LIMIT)
    with pytest.raises(rules.Refused) as refused:
        rules.check_http_api_payload(LIMIT + 1)
    assert (refused.value.message, refused.value.status) == (EXCEEDED.decode(), 413)


def test_a_body_one_byte_over_10_mib_gets_api_gateways_plain_text(gateway):
    status, headers, body = http_request(gateway, "POST", "/", BINARY, b"x" * (LIMIT + 1))
    assert (status, body) == (413, EXCEEDED)
    assert header(headers, "content-type") == ["text; charset=utf-8"]
    assert header(headers, "x-amzn-errortype") == []


def test_a_chunked_body_one_byte_over_10_mib_gets_it_too(gateway):
    status, headers, body = chunked_request(gateway, megabytes(LIMIT + 1))
    assert (status, body) == (413, EXCEEDED)
    assert header(headers, "content-type") == ["text; charset=utf-8"]


def test_a_body_of_10_mib_passes_the_http_api_and_meets_lambdas_limit(gateway):
    # Binary, so base64 in the event: about 14 MB, over Lambda's 6 MB.
    status, headers, body = http_request(gateway, "POST", "/", BINARY, b"x" * LIMIT)
    assert (status, json.loads(body)) == (413, {"message": "Request Too Long"})
    assert header(headers, "x-amzn-errortype") == ["BadRequestException"]
    status, _, body = chunked_request(gateway, megabytes(LIMIT))
    assert (status, json.loads(body)) == (413, {"message": "Request Too Long"})
