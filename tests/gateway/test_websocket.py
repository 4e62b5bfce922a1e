"""The WebSocket API: authorizer, $connect, routed messages, $disconnect, integration failures."""

from __future__ import annotations

import json
import re
import time

import pytest
from websockets.exceptions import InvalidStatus

from tests.gateway.websocket_client import (
    new_tag,
    on_connection,
    open_socket,
    tagged,
    whoami,
    with_body,
)

CONNECTION_ID = re.compile(r"^[A-Za-z0-9_-]{15}=$")
REQUEST_TIME = re.compile(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$")


def refused_status(gateway, query: str) -> tuple[int, bytes]:
    with pytest.raises(InvalidStatus) as refused:
        open_socket(gateway, query)
    return refused.value.response.status_code, bytes(refused.value.response.body or b"")


def test_a_missing_or_empty_token_is_refused_401_without_calling_the_authorizer(gateway, records):
    tag = new_tag()
    assert refused_status(gateway, f"tag={tag}")[0] == 401
    assert refused_status(gateway, f"token=&tag={tag}")[0] == 401
    time.sleep(0.3)
    assert records.matching("authorizer", tagged(tag)) == []
    assert records.matching("connect", tagged(tag)) == []


def test_the_authorizer_gets_a_request_event_for_the_connect_method(gateway, records, wiring):
    tag = new_tag()
    with open_socket(gateway, f"token=allow&tag={tag}&tag={tag}-2") as socket:
        identity = whoami(socket)
    (entry,) = records.wait_for("authorizer", tagged(tag))
    event = entry["event"]
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == wiring.execute_api_arn(wiring.websocket_api_id, "dev/$connect")
    assert event["queryStringParameters"] == {"token": "allow", "tag": f"{tag}-2"}
    assert event["multiValueQueryStringParameters"] == {
        "token": ["allow"],
        "tag": [tag, f"{tag}-2"],
    }
    assert event["headers"]["Host"] == f"127.0.0.1:{gateway.port}"
    assert event["headers"]["Sec-WebSocket-Version"] == "13"
    assert event["headers"]["Sec-WebSocket-Key"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["multiValueHeaders"]["Upgrade"] == ["websocket"]
    assert event["stageVariables"] == {}
    context = event["requestContext"]
    assert context["routeKey"] == "$connect"
    assert context["eventType"] == "CONNECT"
    assert context["messageDirection"] == "IN"
    assert context["stage"] == "dev"
    assert context["apiId"] == wiring.websocket_api_id
    assert context["domainName"] == "127.0.0.1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["connectionId"] == identity["connectionId"]
    assert CONNECTION_ID.match(context["connectionId"])
    assert REQUEST_TIME.match(context["requestTime"])
    assert context["requestTimeEpoch"] >= context["connectedAt"] > 1.7e12
    lambda_context = entry["context"]
    assert lambda_context["function_name"] == "http-tunnel-authorizer-dev"
    assert lambda_context["invoked_function_arn"].endswith(":function:http-tunnel-authorizer-dev")
    assert lambda_context["memory_limit_in_mb"] == "256"
    assert lambda_context["log_group_name"] == "/aws/lambda/http-tunnel-authorizer-dev"
    assert 0 < lambda_context["remaining_ms"] <= 10_000


@pytest.mark.parametrize(
    ("token", "status"),
    [("deny", 403), ("elsewhere", 403), ("unauthorized", 401), ("raise", 500), ("malformed", 500)],
)
def test_an_authorizer_that_does_not_allow_refuses_before_connect(gateway, records, token, status):
    tag = new_tag()
    code, body = refused_status(gateway, f"token={token}&tag={tag}")
    assert code == status
    assert b"SECRET" not in body
    records.wait_for("authorizer", tagged(tag))
    time.sleep(0.2)
    assert records.matching("connect", tagged(tag)) == []


def test_connect_gets_the_authorizer_context_and_its_own_event(gateway, records):
    tag = new_tag()
    with open_socket(gateway, f"token=allow&tag={tag}") as socket:
        identity = whoami(socket)
    (entry,) = records.wait_for("connect", tagged(tag))
    event = entry["event"]
    assert event["isBase64Encoded"] is False
    assert event["queryStringParameters"] == {"token": "allow", "tag": tag}
    assert event["headers"]["Host"] == f"127.0.0.1:{gateway.port}"
    context = event["requestContext"]
    assert context["eventType"] == "CONNECT"
    assert context["routeKey"] == "$connect"
    assert context["connectionId"] == identity["connectionId"]
    assert context["authorizer"] == {
        "subject": "alice",
        "subdomain": "demo",
        "level": 7,
        "admin": False,
        "principalId": "principal-allow",
    }
    assert entry["context"]["function_name"] == "http-tunnel-connect-dev"


def test_a_connect_answering_non_2xx_refuses_with_that_status(gateway, records):
    tag = new_tag()
    assert refused_status(gateway, f"token=allow&refuse=409&tag={tag}")[0] == 409
    assert refused_status(gateway, f"token=allow&refuse=401&tag={tag}")[0] == 401
    assert len(records.wait_for("connect", tagged(tag), count=2)) == 2


def test_messages_are_routed_on_action_and_carry_their_request_context(gateway, records, wiring):
    tag = new_tag()
    with open_socket(gateway, f"token=allow&tag={tag}") as socket:
        echoed = whoami(socket, action="echo")
        unmatched = whoami(socket, action="no-such-route")
        socket.send(f"not json {tag}")
        socket.send(json.dumps({"action": "echo", "tag": tag}))
        (plain,) = records.wait_for("response", with_body(f"not json {tag}"))
        (routed,) = records.wait_for("response", with_body(f'"tag": "{tag}"'))
    assert echoed["routeKey"] == "echo"
    assert unmatched["routeKey"] == "$default"
    assert plain["event"]["requestContext"]["routeKey"] == "$default"
    event = routed["event"]
    assert event["body"] == json.dumps({"action": "echo", "tag": tag})
    assert event["isBase64Encoded"] is False
    assert "headers" not in event
    context = event["requestContext"]
    assert context["routeKey"] == "echo"
    assert context["eventType"] == "MESSAGE"
    assert context["connectionId"] == echoed["connectionId"]
    assert context["messageId"] != plain["event"]["requestContext"]["messageId"]
    assert context["authorizer"]["principalId"] == "principal-allow"
    assert context["authorizer"]["subdomain"] == "demo"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["domainName"] == "127.0.0.1"
    assert context["stage"] == "dev"
    assert context["apiId"] == wiring.websocket_api_id
    assert context["requestTimeEpoch"] >= context["connectedAt"]
    assert routed["context"]["function_name"] == "http-tunnel-response-dev"


def test_disconnect_runs_once_with_the_close_code(gateway, records):
    tag = new_tag()
    with open_socket(gateway, f"token=allow&tag={tag}") as socket:
        connection_id = whoami(socket)["connectionId"]
    (entry,) = records.wait_for("disconnect", on_connection(connection_id))
    time.sleep(0.3)
    assert len(records.matching("disconnect", on_connection(connection_id))) == 1
    context = entry["event"]["requestContext"]
    assert context["routeKey"] == "$disconnect"
    assert context["eventType"] == "DISCONNECT"
    assert context["disconnectStatusCode"] == 1000
    assert context["authorizer"]["principalId"] == "principal-allow"
    assert entry["event"]["headers"]["Host"] == "127.0.0.1"


@pytest.mark.parametrize("action", ["unpermitted", "nowhere", "boom"])
def test_a_failing_route_answers_internal_server_error_on_the_socket(gateway, records, action):
    tag = new_tag()
    with open_socket(gateway, f"token=allow&tag={tag}") as socket:
        connection_id = whoami(socket)["connectionId"]
        socket.send(json.dumps({"action": action, "tag": tag}))
        answer = json.loads(socket.recv(timeout=10))
    assert answer["message"] == "Internal server error"
    assert answer["connectionId"] == connection_id
    assert answer["requestId"]
    reached = records.matching("response", with_body(tag))
    # Only "boom" reaches the function (which raises); the others fail before it.
    assert len(reached) == (1 if action == "boom" else 0)
    for entry in reached:
        assert entry["event"]["requestContext"]["requestId"] == answer["requestId"]
