"""rules.check_connection_established: @connections answers 410 GoneException for a connection
whose $connect has not returned (its id exists, the connection does not yet), on the agents' API
and on the answers API alike."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from aws_fidelity import rules
from tests.gateway.websocket_client import new_tag, open_socket, tagged


def test_the_rule_refuses_a_connection_not_established():
    rules.check_connection_established(True)
    with pytest.raises(rules.Refused) as refused:
        rules.check_connection_established(False)
    assert (refused.value.status, refused.value.code) == (410, "GoneException")


def test_a_post_during_connect_is_gone_and_after_it_arrives(gateway, records):
    """The test $connect handler posts to its own connection id (?post=1) before it returns:
    410. Once the 101 is out, the same post is delivered."""
    tag = new_tag()
    with open_socket(gateway, f"token=allow&post=1&tag={tag}") as socket:
        (entry,) = records.wait_for("connect", tagged(tag))
        (outcome,) = records.wait_for("connect-post", lambda e: e["event"].get("tag") == tag)
        assert outcome["event"]["outcome"] == "GoneException"
        connection_id = entry["event"]["requestContext"]["connectionId"]
        client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=gateway.connections_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.post_to_connection(ConnectionId=connection_id, Data=b"now")
        assert socket.recv(timeout=10) == "now"
    # Closed: gone again.
    with pytest.raises(ClientError) as gone:
        client.post_to_connection(ConnectionId=connection_id, Data=b"late")
    assert gone.value.response["Error"]["Code"] == "GoneException"
