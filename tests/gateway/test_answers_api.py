"""The internal answers API on the local gateway: a SigV4-signed upgrade connects (MOCK
$connect, nothing invoked), whoami reaches response with this API's context and is answered
through this API's own @connections; no $default; the two APIs' connections are apart."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.gateway.websocket_client import new_tag, open_answers, open_socket, whoami


def management(endpoint: str):  # noqa: ANN201
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_signed_connection_asks_whoami_and_learns_its_id(gateway, records, answers_api_id):
    tag = new_tag()
    with open_answers(gateway, answers_api_id) as socket:
        socket.send(json.dumps({"action": "whoami", "whoami": True, "tag": tag}))
        told = json.loads(socket.recv(timeout=10))
    assert told["routeKey"] == "whoami"
    (entry,) = records.wait_for("response", lambda e: tag in (e["event"].get("body") or ""))
    context = entry["event"]["requestContext"]
    assert (context["apiId"], context["routeKey"], context["stage"]) == (
        answers_api_id,
        "whoami",
        "dev",
    )
    assert context["connectionId"] == told["connectionId"]
    assert "WS $connect 101" in gateway.log()


def test_no_default_route_answers_forbidden_on_the_socket(gateway, answers_api_id):
    with open_answers(gateway, answers_api_id) as socket:
        socket.send(json.dumps({"action": "answer", "requestId": "r"}))
        said = json.loads(socket.recv(timeout=10))
    assert said["message"] == "Forbidden"


def test_each_apis_connections_are_its_own(gateway, answers_api_id):
    """The agents' @connections cannot reach an answers connection, nor the reverse."""
    with open_answers(gateway, answers_api_id) as answers_socket:
        answers_socket.send(json.dumps({"action": "whoami", "whoami": True}))
        answers_id = json.loads(answers_socket.recv(timeout=10))["connectionId"]
        with open_socket(gateway, "token=allow") as agent:
            agent_id = whoami(agent)["connectionId"]
            agents_endpoint = management(gateway.connections_endpoint)
            answers_endpoint = management(f"http://127.0.0.1:{gateway.port}/{answers_api_id}/dev")
            for client, other in ((agents_endpoint, answers_id), (answers_endpoint, agent_id)):
                with pytest.raises(ClientError) as gone:
                    client.post_to_connection(ConnectionId=other, Data=b"x")
                assert gone.value.response["Error"]["Code"] == "GoneException"
            answers_endpoint.post_to_connection(ConnectionId=answers_id, Data=b"for you")
            assert answers_socket.recv(timeout=10) == "for you"
