"""REST API (payload 1.0) events read as the 2.0 events forwarding reads (rest_events)."""

from __future__ import annotations

import pytest
from tunnel_shared.events import BadEvent
from tunnel_shared.rest_events import as_http_event, as_rest_answer, is_rest_event


def rest_event(**overrides: object) -> dict:
    """A REST API proxy event as the docs' example has it, through a custom domain."""
    event = {
        "resource": "/{proxy+}",
        "path": "/items/a%20b",
        "httpMethod": "POST",
        "headers": {"Host": "demo.tunnel.test", "Cookie": "b=2", "X-Many": "2"},
        "multiValueHeaders": {
            "Host": ["demo.tunnel.test"],
            "Cookie": ["a=1; b=2"],
            "X-Many": ["1", "2"],
            "X-Forwarded-Proto": ["https"],
        },
        "queryStringParameters": {"q": "2", "s": "x y"},
        "multiValueQueryStringParameters": {"q": ["1", "2"], "s": ["x y"]},
        "pathParameters": {"proxy": "items/a b"},
        "requestContext": {
            "stage": "dev",
            "domainName": "demo.tunnel.test",
            "httpMethod": "POST",
            "path": "/items/a%20b",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "198.51.100.7"},
        },
        "body": "aGk=",
        "isBase64Encoded": True,
    }
    event.update(overrides)
    return event


def test_a_rest_event_is_told_from_an_http_api_event():
    assert is_rest_event(rest_event())
    assert not is_rest_event({"version": "2.0", "requestContext": {}, "rawPath": "/"})
    assert not is_rest_event("not an event")


def test_a_rest_event_becomes_the_http_api_event_forwarding_reads():
    event = as_http_event(rest_event())
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/items/a b"  # decoded, as HTTP APIs deliver rawPath
    assert event["rawQueryString"] == "q=1&q=2&s=x%20y"  # duplicates kept, re-encoded
    assert event["headers"] == {
        "host": "demo.tunnel.test",
        "x-many": "1,2",
        "x-forwarded-proto": "https",
    }
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["sourceIp"] == "198.51.100.7"
    assert event["requestContext"]["domainName"] == "demo.tunnel.test"
    assert event["requestContext"]["stage"] == "dev"
    assert (event["body"], event["isBase64Encoded"]) == ("aGk=", True)


def test_without_multi_value_maps_the_single_values_are_read():
    event = as_http_event(
        rest_event(multiValueHeaders=None, multiValueQueryStringParameters=None, body=None)
    )
    assert event["rawQueryString"] == "q=2&s=x%20y"
    assert event["headers"]["x-many"] == "2"
    assert "body" not in event


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"path": None}, "event has no path"),
        ({"requestContext": "x"}, "event has no requestContext"),
        ({"multiValueHeaders": {"A": "not a list"}}, "multiValueHeaders is not a map of lists"),
        ({"body": 7}, "event body is not a string"),
    ],
)
def test_a_malformed_rest_event_is_one_line_naming_the_field(overrides, message):
    with pytest.raises(BadEvent, match=message):
        as_http_event(rest_event(**overrides))


def test_cookies_become_set_cookie_headers_for_a_buffered_rest_integration():
    answer = {"statusCode": 200, "headers": {"a": "b"}, "cookies": ["s=1", "t=2"], "body": ""}
    assert as_rest_answer(answer) == {
        "statusCode": 200,
        "headers": {"a": "b"},
        "multiValueHeaders": {"set-cookie": ["s=1", "t=2"]},
        "body": "",
    }


def test_the_rebuilt_query_keeps_what_a_browser_sends_unencoded():
    """A login redirect's ``?next=/admin/`` reaches the app as the browser sent it; what would
    change how the query splits (&, =, +, #, %) is encoded again."""
    event = rest_event(
        queryStringParameters=None,
        multiValueQueryStringParameters={"next": ["/admin/?a=1&b"], "t": ["x+y%#"]},
    )
    assert as_http_event(event)["rawQueryString"] == "next=/admin/?a%3D1%26b&t=x%2By%25%23"
