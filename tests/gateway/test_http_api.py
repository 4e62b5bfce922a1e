"""The HTTP API: payload format 2.0 events, response mapping, routing, failures, concurrency."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.gateway.conftest import http_request

REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{15}=$")
INTERNAL_ERROR = b'{"message": "Internal Server Error"}'


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name]


def echoed(gateway, method: str, target: str, **options) -> dict:
    """The event the integration received (the test handler answers with it)."""
    status, _, body = http_request(gateway, method, target, **options)
    assert status == 200, body
    return json.loads(body)


def test_the_event_is_payload_format_2_0(gateway, wiring):
    status, headers, body = http_request(
        gateway,
        "GET",
        "/items/a-b?x=1&x=2&a%20b=c%26d&empty=&flag",
        headers=[
            ("X-Repeat", "one"),
            ("X-Repeat", "two"),
            ("Cookie", "s=1; t=2"),
            ("Cookie", "u=3"),
            ("User-Agent", "gateway-tests/1.0"),
        ],
    )
    assert status == 200
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/items/a-b"
    assert event["rawQueryString"] == "x=1&x=2&a%20b=c%26d&empty=&flag"
    assert event["queryStringParameters"] == {"x": "1,2", "a b": "c&d", "empty": "", "flag": ""}
    assert event["cookies"] == ["s=1", "t=2", "u=3"]
    assert event["headers"] == {
        # The Host the client sent (on AWS the API's own name, which its client used).
        "host": f"localhost:{gateway.port}",
        "x-repeat": "one,two",
        "user-agent": "gateway-tests/1.0",
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-port": str(gateway.port),
        "x-forwarded-proto": "http",
        "x-amzn-trace-id": event["headers"]["x-amzn-trace-id"],
    }
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    assert "pathParameters" not in event
    assert "stageVariables" not in event
    context = event["requestContext"]
    assert context["accountId"] == wiring.account_id
    assert context["apiId"] == wiring.http_api_id
    assert context["domainName"] == "localhost"
    assert context["domainPrefix"] == "localhost"
    assert context["http"] == {
        "method": "GET",
        "path": "/items/a-b",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "gateway-tests/1.0",
    }
    assert REQUEST_ID.match(context["requestId"])
    assert header_values(headers, "apigw-requestid") == [context["requestId"]]
    assert context["routeKey"] == "$default"
    assert context["stage"] == "$default"
    assert re.match(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$", context["time"])
    assert abs(context["timeEpoch"] - time.time() * 1000) < 60_000


@pytest.mark.parametrize(
    "host",
    [
        "localhost:{port}",
        "{api}.execute-api.localhost:{port}",
        "LocalHost:{port}",
        "localhost",  # no port: the one it reached is still the gateway's
        "localhost:1",  # a port the client named but did not connect to
    ],
)
def test_the_event_carries_the_clients_host_and_where_it_arrived(gateway, wiring, host):
    # As API Gateway builds it: the Host the client sent, and x-forwarded-proto and -port
    # its own (http and the port the request reached), replacing the client's.
    host = host.format(port=gateway.port, api=wiring.http_api_id)
    event = echoed(
        gateway,
        "GET",
        "/items/1",
        host=host,
        headers=[
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Port", "443"),
            ("X-Forwarded-For", "198.51.100.1"),
        ],
    )
    assert event["headers"]["host"] == host
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == str(gateway.port)
    assert event["headers"]["x-forwarded-for"] == "198.51.100.1, 127.0.0.1"
    assert event["requestContext"]["domainName"] == host.split(":")[0].lower()
    assert ".amazonaws.com" not in json.dumps(event)


def test_raw_path_arrives_percent_decoded_as_http_apis_deliver_it(gateway):
    event = echoed(gateway, "GET", "/files/a%20b%2Fc?q=a%2Fb")
    assert event["rawPath"] == "/files/a b/c"
    assert event["requestContext"]["http"]["path"] == "/files/a b/c"
    assert event["rawQueryString"] == "q=a%2Fb"


def test_text_bodies_arrive_as_text_and_others_as_base64(gateway):
    json_body = json.dumps({"hello": "wörld"}).encode()
    event = echoed(
        gateway, "POST", "/", headers=[("Content-Type", "application/json")], body=json_body
    )
    assert (event["body"], event["isBase64Encoded"]) == (json_body.decode(), False)
    for content_type, body in [
        ("application/octet-stream", b"plain ascii, still binary"),
        ("application/x-www-form-urlencoded", b"a=1&b=2"),
        ("text/plain", b"\xff\xfe not UTF-8"),
    ]:
        event = echoed(gateway, "PUT", "/", headers=[("Content-Type", content_type)], body=body)
        assert event["isBase64Encoded"] is True, content_type
        assert base64.b64decode(event["body"]) == body


def test_a_binary_body_crosses_both_ways_byte_identical(gateway):
    body = os.urandom(64 * 1024)
    status, headers, answer = http_request(
        gateway,
        "POST",
        "/echo-body",
        headers=[("Content-Type", "application/octet-stream")],
        body=body,
    )
    assert status == 200
    assert answer == body
    assert header_values(headers, "content-type") == ["application/octet-stream"]


def test_every_cookie_becomes_its_own_set_cookie_header(gateway):
    status, headers, body = http_request(gateway, "GET", "/cookies")
    assert status == 201
    assert body == b"cookies set"
    assert header_values(headers, "set-cookie") == [
        "a=1; Path=/",
        "b=2; HttpOnly",
        "c=3; Max-Age=60",
    ]
    assert header_values(headers, "x-multi") == ["v1,v2"]
    assert header_values(headers, "content-type") == ["text/plain"]


def test_a_204_has_no_body(gateway):
    status, headers, body = http_request(gateway, "GET", "/no-content")
    assert (status, body) == (204, b"")
    assert header_values(headers, "x-empty") == ["yes"]


def test_a_base64_encoded_answer_is_decoded(gateway):
    status, _, body = http_request(gateway, "GET", "/binary")
    assert status == 200
    assert body == bytes(range(256)) * 4


def test_an_answer_without_status_code_is_inferred_as_json(gateway):
    status, headers, body = http_request(gateway, "GET", "/infer")
    assert status == 200
    assert header_values(headers, "content-type") == ["application/json"]
    assert json.loads(body) == {"hello": "world", "n": 1}


@pytest.mark.parametrize("path", ["/raise", "/bad-status", "/unserializable"])
def test_a_failing_integration_is_a_500_without_internals(gateway, path):
    status, _, body = http_request(gateway, "GET", path)
    assert (status, body) == (500, INTERNAL_ERROR)


def test_a_handler_traceback_goes_to_the_gateway_log_only(gateway):
    status, _, body = http_request(gateway, "GET", "/raise")
    assert status == 500 and b"SECRET" not in body
    time.sleep(0.2)
    assert "SECRET-FORWARDING-INTERNALS" in gateway.log()


def test_a_request_to_the_bare_address_is_not_found(gateway):
    # An address is the WebSocket API's endpoint (the name localhost is the HTTP API's).
    for host in (f"127.0.0.1:{gateway.port}", f"[::1]:{gateway.port}"):
        status, _, body = http_request(gateway, "GET", "/anything", host=host)
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_the_most_specific_route_wins(gateway, records):
    def route_of(method: str, tag: str) -> str:
        assert http_request(gateway, method, f"/slow?s=0&tag={tag}")[0] == 200
        query = f"s=0&tag={tag}"
        (entry,) = records.wait_for("forwarding", lambda e: e["event"]["rawQueryString"] == query)
        return entry["event"]["routeKey"]

    assert route_of("GET", "get-route") == "GET /slow"
    assert route_of("POST", "post-route") == "$default"  # GET /slow does not take POST


def test_an_integration_over_its_timeout_answers_503(gateway, records):
    started = time.monotonic()
    status, _, body = http_request(gateway, "GET", "/slow?s=3")
    elapsed = time.monotonic() - started
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
    assert 0.9 < elapsed < 2.5  # the route's 1 s, not the handler's 3 s
    event = records.wait_for("forwarding", lambda e: e["event"]["rawQueryString"] == "s=3")[0]
    assert event["event"]["routeKey"] == "GET /slow"


@pytest.mark.parametrize("path", ["/miswired", "/unpermitted"])
def test_a_miswired_route_fails_before_any_function_runs(gateway, records, path):
    status, _, body = http_request(gateway, "GET", path)
    assert (status, body) == (500, INTERNAL_ERROR)
    time.sleep(0.2)
    assert records.matching("forwarding", lambda e: e["event"]["rawPath"] == path) == []


def test_fifty_concurrent_requests_run_at_once(gateway):
    def one(index: int) -> int:
        return http_request(gateway, "GET", f"/sleep?s=1&i={index}")[0]

    started = time.monotonic()
    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(one, range(50)))
    assert statuses == [200] * 50
    assert time.monotonic() - started < 5  # one after another would take 50 s


def test_a_body_over_10_mb_is_refused_413(gateway):
    # API Gateway's own plain text (tests/fidelity/test_http_api_payload_limit.py).
    status, _, body = http_request(
        gateway,
        "POST",
        "/",
        headers=[("Content-Type", "application/octet-stream")],
        body=b"x" * (10 * 1024 * 1024 + 1),
    )
    assert (status, body) == (413, b"HTTP content length exceeded 10485760 bytes.")
