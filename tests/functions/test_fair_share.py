"""A fair share for every tunnel (tunnel_shared.capacity): a tunnel at its cap queues callers for
a moment, then answers 429; the others are untouched; leases of dead executions free their
slots; a connected but silent agent is waited for only briefly."""

from __future__ import annotations

import json
import threading
import time

from tunnel_shared import capacity

from tests.functions.agents import connect
from tests.functions.events import http_event
from tests.functions.test_tunnel_round_trip import answer_requests


def hang(functions, subdomain: str, answers: list) -> threading.Thread:
    """A request whose agent never answers (until the forwarding deadline)."""
    thread = threading.Thread(
        target=lambda: answers.append(functions.invoke("forwarding", http_event(subdomain))),
        daemon=True,
    )
    thread.start()
    return thread


def in_flight(functions, subdomain: str) -> int:
    item = functions.connections.get_item(Key=capacity.key(subdomain), ConsistentRead=True)
    return int(item.get("Item", {}).get("count", 0))


def test_a_tunnel_at_its_cap_answers_429_while_another_stays_fast(functions, monkeypatch):
    monkeypatch.setenv("IN_FLIGHT_PER_TUNNEL", "2")
    monkeypatch.setattr(functions.modules["forwarding"], "DEADLINE_SECONDS", 6)
    connect(functions, "slow", "stuck")
    hanging: list = []
    threads = [hang(functions, "stuck", hanging) for _ in range(2)]
    deadline = time.monotonic() + 5
    while in_flight(functions, "stuck") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert in_flight(functions, "stuck") == 2

    started = time.monotonic()
    refused = functions.invoke("forwarding", http_event("stuck"))
    waited = time.monotonic() - started
    assert refused["statusCode"] == 429
    assert refused["headers"]["retry-after"] == "1"
    assert 1.0 <= waited < 4  # it waited for a slot first, a moment only

    fine, _ = connect(functions, "fast", "quick")
    agent = answer_requests(functions, fine)
    started = time.monotonic()
    assert functions.invoke("forwarding", http_event("quick"))["statusCode"] == 200
    assert time.monotonic() - started < 1.0
    agent.join()

    for thread in threads:
        thread.join(15)
    assert [answer["statusCode"] for answer in hanging] == [504, 504]
    assert in_flight(functions, "stuck") == 0  # both released


def test_a_rejection_is_a_metric_data_point_in_its_log_line(functions, monkeypatch, capsys):
    monkeypatch.setenv("IN_FLIGHT_PER_TUNNEL", "1")
    connect(functions, "full", "brimful")
    now = int(time.time())
    functions.connections.put_item(
        Item={**capacity.key("brimful"), "count": 1, "lease_x": now + 30, "answeredAt": now}
    )
    assert functions.invoke("forwarding", http_event("brimful"))["statusCode"] == 429
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "brimful" in line]
    (logged,) = [line for line in lines if line.get("outcome") == "over capacity"]
    (metric,) = logged["_aws"]["CloudWatchMetrics"]
    assert metric["Namespace"] == "http-tunnel" and metric["Dimensions"] == [["Environment"]]
    assert logged["TunnelRejections"] == 1


def test_the_leases_of_executions_that_died_free_their_slots(functions, monkeypatch):
    monkeypatch.setenv("IN_FLIGHT_PER_TUNNEL", "1")
    owner, _ = connect(functions, "ghost", "haunted")
    long_ago = int(time.time()) - 100
    functions.connections.put_item(
        Item={**capacity.key("haunted"), "count": 1, "lease_dead": long_ago}
    )
    agent = answer_requests(functions, owner)
    assert functions.invoke("forwarding", http_event("haunted"))["statusCode"] == 200
    agent.join()
    assert in_flight(functions, "haunted") == 0


def test_a_connected_but_silent_agent_is_waited_for_briefly(functions, monkeypatch):
    connect(functions, "mute", "silent")
    # A request has been waiting 15 s, and the agent has answered nothing since.
    taken = int(time.time()) - 15
    functions.connections.put_item(
        Item={
            **capacity.key("silent"),
            "count": 1,
            "lease_old": taken + capacity.LEASE_SECONDS,
            "ttl": taken + 100,
        }
    )
    started = time.monotonic()
    answer = functions.invoke("forwarding", http_event("silent"))
    assert answer["statusCode"] == 504
    assert time.monotonic() - started < capacity.SILENT_DEADLINE_SECONDS + 2


def refused_at_once(functions, subdomain: str) -> dict:
    """Forwarding's answer for ``subdomain``, which must come without waiting for a slot (the
    waits are an hour long here: a caller held waiting would not be back in 15 s)."""
    answers: list = []
    thread = hang(functions, subdomain, answers)
    thread.join(15)
    assert answers, "the caller was held waiting for a slot"
    return answers[0]


def test_a_full_tunnel_whose_agent_is_silent_refuses_at_once(functions, monkeypatch):
    monkeypatch.setenv("IN_FLIGHT_PER_TUNNEL", "1")
    monkeypatch.setattr(functions.modules["forwarding"], "SLOT_WAIT_SECONDS", 3600)
    monkeypatch.setattr(functions.modules["forwarding"], "MAX_SLOT_WAIT_SECONDS", 3600)
    connect(functions, "mute", "hushed")
    # Full: its one request has waited 15 s, and the agent has answered nothing since.
    taken = int(time.time()) - 15
    functions.connections.put_item(
        Item={**capacity.key("hushed"), "count": 1, "lease_old": taken + capacity.LEASE_SECONDS}
    )
    answer = refused_at_once(functions, "hushed")
    assert answer["statusCode"] == 429
    item = functions.connections.get_item(Key=capacity.key("hushed"), ConsistentRead=True)["Item"]
    assert int(item.get("waiting", 0)) == 0


def test_only_so_many_callers_wait_for_a_full_tunnel(functions, monkeypatch):
    monkeypatch.setenv("IN_FLIGHT_PER_TUNNEL", "2")
    monkeypatch.setattr(functions.modules["forwarding"], "SLOT_WAIT_SECONDS", 3600)
    monkeypatch.setattr(functions.modules["forwarding"], "MAX_SLOT_WAIT_SECONDS", 3600)
    connect(functions, "busy", "bustling")
    now = int(time.time())
    # Full and answering, and as many callers wait already as may.
    waiters = capacity.waiters_allowed(2)
    assert 1 <= waiters < 1000
    functions.connections.put_item(
        Item={
            **capacity.key("bustling"),
            "count": 2,
            "lease_a": now + capacity.LEASE_SECONDS,
            "lease_b": now + capacity.LEASE_SECONDS,
            "answeredAt": now,
            "waiting": waiters,
            **{f"waiter_w{i}": now + capacity.LEASE_SECONDS for i in range(waiters)},
        }
    )
    assert refused_at_once(functions, "bustling")["statusCode"] == 429


def test_a_waiter_whose_execution_died_leaves_room(functions, monkeypatch):
    monkeypatch.setenv("IN_FLIGHT_PER_TUNNEL", "2")
    owner, _ = connect(functions, "busy", "bustled")
    now = int(time.time())
    long_ago = now - 100
    functions.connections.put_item(
        Item={
            **capacity.key("bustled"),
            "count": 2,
            "lease_a": now + capacity.LEASE_SECONDS,
            "lease_dead": long_ago,
            "answeredAt": now,
            "waiting": 1,
            "waiter_dead": long_ago,
        }
    )
    agent = answer_requests(functions, owner)
    assert functions.invoke("forwarding", http_event("bustled"))["statusCode"] == 200
    agent.join()
    item = functions.connections.get_item(Key=capacity.key("bustled"), ConsistentRead=True)["Item"]
    assert int(item["waiting"]) == 0 and "waiter_dead" not in item
    assert int(item["count"]) == 1  # lease_a is still held
