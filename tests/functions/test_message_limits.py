"""One agent cannot spend the WebSocket stage's message rate for all: messages that answer no
request (ready, pings, rejected, unreadable) have a per-connection allowance in ``response``,
and a connection over it is told and closed. Answers to real requests cost no DynamoDB
operation, so a busy tunnel pays nothing for the limit."""

from __future__ import annotations

import threading
import time

from tunnel_shared import protocol
from tunnel_shared.connections import MESSAGE_BURST
from tunnel_shared.resources import connections_table

from tests.functions.agents import connect
from tests.functions.events import http_event, websocket_event
from tests.functions.test_tunnel_round_trip import answer_requests


def send(functions, connection_id: str, body: str) -> dict:
    return functions.invoke("response", websocket_event("$default", connection_id, body))


class Operations:
    """The DynamoDB calls the response function makes, by operation and table."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._clients = {connections_table().meta.client}

    def __enter__(self) -> Operations:
        for client in self._clients:
            client.meta.events.register(
                "provide-client-params.dynamodb.*", self._record, unique_id="test-operations"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._clients:
            client.meta.events.unregister(
                "provide-client-params.dynamodb.*", unique_id="test-operations"
            )

    def _record(self, params: dict, model, **_: object) -> None:
        from tests.aws_calls import current_function

        if current_function.get() == "response":
            with self._lock:
                self.calls.append((model.name, params["TableName"]))


def test_an_agent_pinging_over_the_limit_is_told_and_closed(functions):
    noisy, _ = connect(functions, "kim", "kilo")
    quiet, _ = connect(functions, "lou", "lima-quiet")
    for _ in range(MESSAGE_BURST):
        assert send(functions, noisy, protocol.ping_message()) == {"statusCode": 200}
    assert noisy not in functions.endpoint.closed
    assert send(functions, noisy, protocol.ping_message()) == {"statusCode": 429}
    assert noisy in functions.endpoint.closed
    told = protocol.parse_closed(functions.endpoint.messages(noisy)[-1])
    assert "too many messages" in told.reason
    # The others' allowance is their own.
    assert send(functions, quiet, protocol.ping_message()) == {"statusCode": 200}
    assert quiet not in functions.endpoint.closed


def test_rejected_and_unreadable_messages_count_too(functions):
    noisy, _ = connect(functions, "mo", "mike")
    junk = [
        protocol.response_message("no-such-request", 200, [], b""),
        '{"action":"dance"}',
        "not json",
    ]
    for index in range(MESSAGE_BURST):
        send(functions, noisy, junk[index % len(junk)])
    assert noisy not in functions.endpoint.closed
    send(functions, noisy, junk[0])
    assert noisy in functions.endpoint.closed


def test_a_message_from_a_connection_the_table_does_not_know_closes_it(functions):
    # A connection that was replaced before its item was kept (or whose item is gone).
    assert send(functions, "unknownconn0=", protocol.ping_message()) == {"statusCode": 404}
    assert "unknownconn0=" in functions.endpoint.closed


def test_answers_to_real_requests_cost_no_extra_operation_and_are_not_limited(functions):
    connection_id, _ = connect(functions, "ned", "november")
    assert send(functions, connection_id, protocol.ready_message()) == {"statusCode": 200}
    count = MESSAGE_BURST + 1
    with Operations() as operations:
        agent = answer_requests(functions, connection_id, count=count)
        for _ in range(count):
            assert functions.invoke("forwarding", http_event("november"))["statusCode"] == 200
        agent.join()
    assert connection_id not in functions.endpoint.closed
    # The answer goes to the waiting forwarding container's socket: no DynamoDB at all.
    assert operations.calls == []


def test_what_each_counted_message_costs(functions):
    connection_id, _ = connect(functions, "oz", "oscar")
    table = functions.connections.name
    with Operations() as operations:
        send(functions, connection_id, protocol.ready_message())
        ready = list(operations.calls)
        operations.calls.clear()
        send(functions, connection_id, protocol.ping_message())
        burst = list(operations.calls)
        operations.calls.clear()
        # A minute without such messages: the allowance is whole again.
        functions.connections.update_item(
            Key={"connectionId": connection_id},
            UpdateExpression="SET tat = :past",
            ExpressionAttributeValues={":past": int(time.time()) - 1},
        )
        send(functions, connection_id, protocol.ping_message())
    # ready: the allowance's update returns the item it used to read, one write for one read.
    assert ready == [("UpdateItem", table)]
    assert protocol.parse_registered(functions.endpoint.messages(connection_id)[-1]).subdomain == (
        "oscar"
    )
    # Within a minute of another: two conditional writes (the first finds the burst begun).
    assert burst == [("UpdateItem", table)] * 2
    # The agent's pings, 4 minutes apart: one write each.
    assert operations.calls == [("UpdateItem", table)]
