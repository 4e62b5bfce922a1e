"""@connections through boto3's apigatewaymanagementapi client, as the functions call it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime

import boto3
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

from tests.gateway.raw_client import RawClient
from tests.gateway.websocket_client import new_tag, on_connection, open_socket, whoami

KB = 1024


@pytest.fixture(scope="module")
def management(gateway, launched):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.connections_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_function_posts_back_through_its_connections_endpoint(gateway):
    with open_socket(gateway, "token=allow") as socket:
        socket.send(json.dumps({"reply": "hello from the function"}))
        assert socket.recv(timeout=10) == "hello from the function"


def test_a_post_arrives_as_one_message_in_frames_of_at_most_32_kb(gateway, management):
    client = RawClient(f"{gateway.websocket_url}?token=allow")
    try:
        client.send_fragments([json.dumps({"whoami": True}).encode()])
        client.read_until(lambda: client.data_frames())
        connection_id = json.loads(client.data_frames()[0].data)["connectionId"]
        client.frames.clear()
        data = bytes(range(32, 127)) * 1100  # 104,500 bytes of text
        management.post_to_connection(ConnectionId=connection_id, Data=data)
        client.read_until(lambda: sum(len(f.data) for f in client.data_frames()) >= len(data))
    finally:
        client.shut()
    frames = client.data_frames()
    assert [f.opcode for f in frames] == [Opcode.TEXT] + [Opcode.CONT] * 3
    assert [len(f.data) for f in frames] == [32 * KB] * 3 + [len(data) - 96 * KB]
    assert [f.fin for f in frames] == [False, False, False, True]
    assert b"".join(f.data for f in frames) == data


def test_an_unknown_connection_is_gone(management):
    with pytest.raises(management.exceptions.GoneException) as gone:
        management.post_to_connection(ConnectionId="bm9zdWNoY29ubmVjdGlvbg=", Data=b"x")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId="bm9zdWNoY29ubmVjdGlvbg=")


def test_data_over_128_kb_is_refused_payload_too_large(gateway, management):
    with open_socket(gateway, "token=allow") as socket:
        connection_id = whoami(socket)["connectionId"]
        with pytest.raises(management.exceptions.PayloadTooLargeException):
            management.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * KB + 1))
        management.post_to_connection(ConnectionId=connection_id, Data=b"y" * (128 * KB))
        assert socket.recv(timeout=10) == "y" * (128 * KB)


def test_get_connection_describes_it(gateway, management):
    with open_socket(gateway, "token=allow") as socket:
        connection_id = whoami(socket)["connectionId"]
        described = management.get_connection(ConnectionId=connection_id)
    assert isinstance(described["ConnectedAt"], datetime)
    assert described["LastActiveAt"] >= described["ConnectedAt"]
    assert described["Identity"]["SourceIp"] == "127.0.0.1"
    assert "websockets" in described["Identity"]["UserAgent"]


def test_delete_connection_closes_it_and_runs_disconnect(gateway, management, records):
    with open_socket(gateway, "token=allow") as socket:
        connection_id = whoami(socket)["connectionId"]
        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=10)
    records.wait_for("disconnect", on_connection(connection_id))
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")


def test_posting_from_connect_is_gone_until_connect_returns(gateway, records):
    tag = new_tag()
    with open_socket(gateway, f"token=allow&post=1&tag={tag}"):
        pass
    (entry,) = records.wait_for("connect-post", lambda e: e["event"]["tag"] == tag)
    assert entry["event"]["outcome"] == "GoneException"


def test_an_unsigned_call_is_forbidden(gateway):
    with open_socket(gateway, "token=allow") as socket:
        connection_id = whoami(socket)["connectionId"]
        request = urllib.request.Request(
            f"{gateway.connections_endpoint}/@connections/{connection_id}",
            data=b"unsigned",
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            no_proxy.open(request, timeout=10)
        assert refused.value.code == 403
        assert refused.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        time.sleep(0.2)
        socket.send(json.dumps({"reply": "still open, nothing delivered"}))
        assert socket.recv(timeout=10) == "still open, nothing delivered"
