"""API Gateway's WebSocket limits: 32 KB frames, 128 KB messages (both close with 1009), the
idle timeout and the connection lifetime (short here, through the gateway's options)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed

from local_gateway import testing
from tests.gateway.conftest import start_gateway
from tests.gateway.raw_client import RawClient
from tests.gateway.websocket_client import new_tag, on_connection, open_socket, whoami, with_body

KB = 1024


def closed_with(socket, message: object = None) -> int:
    """Send ``message`` if given, then wait for the server to close; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        if message is not None:
            socket.send(message)  # the server may close before the client finishes sending
        while True:
            socket.recv(timeout=10)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


def padded(tag: str, size: int) -> bytes:
    """A JSON message of exactly ``size`` bytes."""
    head = json.dumps({"tag": tag, "pad": ""}).encode()
    return json.dumps({"tag": tag, "pad": "x" * (size - len(head))}).encode()


def test_a_frame_over_32_kb_closes_the_connection_with_1009(gateway, records):
    tag = new_tag()
    with open_socket(gateway, "token=allow") as socket:
        connection_id = whoami(socket)["connectionId"]
        assert closed_with(socket, padded(tag, 32 * KB + 1).decode()) == 1009  # one frame
    (entry,) = records.wait_for("disconnect", on_connection(connection_id))
    assert entry["event"]["requestContext"]["disconnectStatusCode"] == 1009
    assert records.matching("response", with_body(tag)) == []


def test_a_message_over_128_kb_in_32_kb_frames_closes_with_1009(gateway, records):
    tag = new_tag()
    message = padded(tag, 128 * KB + 1)
    with open_socket(gateway, "token=allow") as socket:
        frames = [message[i : i + 32 * KB].decode() for i in range(0, len(message), 32 * KB)]
        assert closed_with(socket, frames) == 1009
    time.sleep(0.3)
    assert records.matching("response", with_body(tag)) == []


def test_128_kb_in_frames_of_32_kb_arrives_as_one_message(gateway, records):
    tag = new_tag()
    message = padded(tag, 128 * KB)
    client = RawClient(f"{gateway.websocket_url}?token=allow")
    try:
        assert client.status == 101
        client.send_fragments([message[i : i + 32 * KB] for i in range(0, len(message), 32 * KB)])
        (entry,) = records.wait_for("response", with_body(tag))
    finally:
        client.shut()
    assert entry["event"]["body"].encode() == message


@pytest.fixture(scope="module")
def short_lived(launched, wiring, records) -> Iterator[testing.GatewayProcess]:
    handle = start_gateway(
        launched, records, ("--idle-timeout", "1", "--max-connection-duration", "3")
    )
    try:
        yield handle
    finally:
        testing.stop(handle)


def test_an_idle_connection_is_closed_going_away(short_lived, records):
    with open_socket(short_lived, "token=allow") as socket:
        connection_id = whoami(socket)["connectionId"]
        started = time.monotonic()
        assert closed_with(socket) == 1001
        assert 0.8 < time.monotonic() - started < 3
    (entry,) = records.wait_for("disconnect", on_connection(connection_id))
    assert entry["event"]["requestContext"]["disconnectStatusCode"] == 1001


def test_an_active_connection_is_closed_at_its_maximum_duration(short_lived):
    with open_socket(short_lived, "token=allow") as socket:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() - started < 10:
                socket.send(json.dumps({"action": "ping"}))  # never idle for 1 s
                time.sleep(0.3)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert 2.5 < time.monotonic() - started < 4.5
