"""A streamed answer through the real response function and the answers API on loopback: the
head, chunks and end each have their MAC checked and are posted to the waiting container, whose
waiter hands them over in order however they were posted; chunks cost no allowance; a forged
chunk is refused; a chunk whose container is gone is dropped and the agent told to cancel."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid

import pytest
from tunnel_shared import protocol
from tunnel_shared import reply as reply_mac
from tunnel_shared.answers import Channel, ChannelLost, StreamBroken
from tunnel_shared.connections import MESSAGE_BURST
from tunnel_shared.limits import STREAM_BUFFER_BYTES
from tunnel_shared.resources import answers_client, reply_key

from tests.functions.agents import connect
from tests.functions.events import websocket_event


def a_request(agent_connection: str) -> tuple[Channel, str, protocol.Reply]:
    """What forwarding does before it posts a streamed request: its answers connection, a
    request id, and the reply fields bound to them and to the agent's connection."""
    channel = answers_client().channel()
    assert channel.connection_id is not None
    request_id = uuid.uuid4().hex
    mac = reply_mac.mac(reply_key(), request_id, agent_connection, channel.connection_id)
    return channel, request_id, protocol.Reply(channel.connection_id, mac)


def send(functions, connection_id: str, text: str) -> dict:
    return functions.invoke("response", websocket_event("$default", connection_id, text))


def test_a_streamed_answer_posted_out_of_order_is_read_in_order(functions):
    agent, _ = connect(functions, "sid", "sierra")
    channel, request_id, reply = a_request(agent)
    parts = [b"data: one\n\n", b"data: two\n\n", b"", b"data: four\n\n"]
    with channel.expect(request_id) as waiter:
        # The end first, then the chunks backwards, the head last: any order may happen.
        texts = [protocol.end_message(request_id, len(parts), reply=reply)]
        texts += [
            protocol.chunk_message(request_id, seq, data, reply)
            for seq, data in reversed(list(enumerate(parts)))
        ]
        head = [("content-type", "text/event-stream"), ("set-cookie", "a=1")]
        texts.append(
            protocol.response_message(request_id, 200, head, b"", reply=reply, streamed=True)
        )
        for text in texts:
            assert send(functions, agent, text) == {"statusCode": 200}
        got = list(waiter.stream(idle_seconds=5))
    assert got[0] == protocol.Response(request_id, 200, head, b"", streamed=True)
    assert got[1:-1] == [protocol.Chunk(request_id, seq, data) for seq, data in enumerate(parts)]
    assert got[-1] == protocol.End(request_id, len(parts))
    assert channel.waiting == 0  # done with: nothing left waiting


def test_parts_are_yielded_as_they_come_not_at_the_end(functions):
    agent, _ = connect(functions, "sid", "sierra")
    channel, request_id, reply = a_request(agent)
    with channel.expect(request_id) as waiter:
        send(
            functions,
            agent,
            protocol.response_message(request_id, 200, [], b"", reply=reply, streamed=True),
        )
        send(functions, agent, protocol.chunk_message(request_id, 0, b"first", reply))
        stream = waiter.stream(idle_seconds=5)
        assert next(stream).streamed
        assert next(stream).data == b"first"  # before any end was sent
        send(
            functions,
            agent,
            protocol.end_message(request_id, 1, "the local service broke off", reply),
        )
        end = next(stream)
        assert isinstance(end, protocol.End) and not end.ok
        assert end.error == "the local service broke off"


def test_a_whole_answer_to_a_streamed_request_is_yielded_alone(functions):
    # An agent that predates streaming, or a 502 the agent made before any header came.
    agent, _ = connect(functions, "sid", "sierra")
    channel, request_id, reply = a_request(agent)
    with channel.expect(request_id) as waiter:
        send(functions, agent, protocol.response_message(request_id, 502, [], b"no", reply=reply))
        assert list(waiter.stream(idle_seconds=5)) == [
            protocol.Response(request_id, 502, [], b"no")
        ]


def test_a_stream_that_stops_coming_is_broken_off_at_the_idle_time(functions):
    agent, _ = connect(functions, "sid", "sierra")
    channel, request_id, reply = a_request(agent)
    with channel.expect(request_id) as waiter:
        send(
            functions,
            agent,
            protocol.response_message(request_id, 200, [], b"", reply=reply, streamed=True),
        )
        send(functions, agent, protocol.chunk_message(request_id, 1, b"seq 0 never comes", reply))
        stream = waiter.stream(idle_seconds=0.3)
        assert next(stream).streamed
        with pytest.raises(StreamBroken, match="nothing of the answer came for 0.3 s"):
            next(stream)


def test_a_stream_holding_too_much_is_broken_off(functions):
    agent, _ = connect(functions, "sid", "sierra")
    channel, request_id, reply = a_request(agent)
    capacity = protocol.chunk_capacity(request_id, reply)
    with channel.expect(request_id) as waiter:
        send(
            functions,
            agent,
            protocol.response_message(request_id, 200, [], b"", reply=reply, streamed=True),
        )
        stream = waiter.stream(idle_seconds=5)
        next(stream)  # the head, posted through the answers API: here before the chunks pile up
        # Chunk 0 never comes; the ones after it pile up past the bound.
        for seq in range(1, STREAM_BUFFER_BYTES // capacity + 2):
            waiter._deliver_part(protocol.Chunk(request_id, seq, bytes(capacity)))
        with pytest.raises(StreamBroken, match="held waiting for a chunk"):
            next(stream)


def test_a_lost_connection_fails_a_stream_at_once(functions):
    agent, _ = connect(functions, "sid", "sierra")
    channel, request_id, reply = a_request(agent)
    with channel.expect(request_id) as waiter:
        send(
            functions,
            agent,
            protocol.response_message(request_id, 200, [], b"", reply=reply, streamed=True),
        )
        stream = waiter.stream(idle_seconds=20)
        next(stream)
        started = time.monotonic()
        threading.Timer(0.2, functions.answers.drop, (reply.reply_to,)).start()
        with pytest.raises(ChannelLost):
            next(stream)
        assert time.monotonic() - started < 5  # the loss, not the 20 s idle time


def test_chunks_of_a_real_request_cost_no_allowance(functions):
    agent, _ = connect(functions, "sid", "sierra")
    channel, request_id, reply = a_request(agent)
    before = functions.connections.get_item(Key={"connectionId": agent})["Item"]
    count = MESSAGE_BURST * 3  # far past what messages answering no request may spend
    with channel.expect(request_id) as waiter:
        send(
            functions,
            agent,
            protocol.response_message(request_id, 200, [], b"", reply=reply, streamed=True),
        )
        for seq in range(count):
            assert send(functions, agent, protocol.chunk_message(request_id, seq, b"x", reply)) == {
                "statusCode": 200
            }
        send(functions, agent, protocol.end_message(request_id, count, reply=reply))
        assert len(list(waiter.stream(idle_seconds=5))) == count + 2
    after = functions.connections.get_item(Key={"connectionId": agent})["Item"]
    assert after.get("tat") == before.get("tat")  # the allowance was not touched
    assert agent not in functions.endpoint.closed


@pytest.mark.parametrize("kind", ["chunk", "end", "head"])
def test_a_forged_part_is_refused_and_reaches_nobody(functions, kind):
    owner, _ = connect(functions, "sid", "sierra")
    spoofer, _ = connect(functions, "mallory", "mike")
    channel, request_id, reply = a_request(owner)
    text = {
        "chunk": protocol.chunk_message(request_id, 0, b"forged", reply),
        "end": protocol.end_message(request_id, 0, reply=reply),
        "head": protocol.response_message(request_id, 200, [], b"", reply=reply, streamed=True),
    }[kind]
    delivered = len(functions.answers.delivered)
    with channel.expect(request_id):
        assert send(functions, spoofer, text) == {"statusCode": 403}
    last = functions.endpoint.messages(spoofer)[-1]
    assert last["type"] == "rejected" and request_id in last["reason"]
    assert len(functions.answers.delivered) == delivered


def test_a_malformed_chunk_is_one_clear_line_to_the_agent(functions):
    agent, _ = connect(functions, "sid", "sierra")
    bad = json.dumps({"action": "chunk", "requestId": "r", "seq": -3, "data": ""})
    assert send(functions, agent, bad) == {"statusCode": 400}
    reason = functions.endpoint.messages(agent)[-1]["reason"]
    assert reason == f"chunk seq must be a whole number from 0 to {protocol.MAX_SEQ}"


def test_a_chunk_nobody_waits_for_any_more_is_dropped_and_the_agent_told_to_cancel(
    functions, capsys
):
    agent, _ = connect(functions, "sid", "sierra")
    _, request_id, reply = a_request(agent)
    functions.answers.refused.add(reply.reply_to)  # its container is gone: 410
    assert send(functions, agent, protocol.chunk_message(request_id, 7, b"late", reply)) == {
        "statusCode": 200
    }
    assert functions.endpoint.messages(agent)[-1] == {"type": "cancel", "requestId": request_id}
    logged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (logged["outcome"], logged["agentCancelled"]) == ("dropped", True)
    # An end that meets a 410 has nothing after it: no cancel.
    posted = len(functions.endpoint.messages(agent))
    functions.answers.refused.add(reply.reply_to)
    assert send(functions, agent, protocol.end_message(request_id, 8, reply=reply)) == {
        "statusCode": 200
    }
    assert len(functions.endpoint.messages(agent)) == posted


def test_the_answer_posted_for_a_full_chunk_fits_a_message(functions):
    agent, _ = connect(functions, "sid", "sierra")
    channel, request_id, reply = a_request(agent)
    data = bytes(range(256)) * (protocol.chunk_capacity(request_id, reply) // 256)
    with channel.expect(request_id) as waiter:
        send(
            functions,
            agent,
            protocol.response_message(request_id, 200, [], b"", reply=reply, streamed=True),
        )
        send(functions, agent, protocol.chunk_message(request_id, 0, data, reply))
        send(functions, agent, protocol.end_message(request_id, 1, reply=reply))
        got = list(waiter.stream(idle_seconds=5))
    assert base64.b64encode(got[1].data) == base64.b64encode(data)
