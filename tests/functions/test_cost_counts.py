"""The cost model's per-request counts (tunnel_infra.cost.PER_REQUEST) are what the functions
do: requests run through the real forwarding and response against the emulator's tables, and
every AWS call is counted by the call recorder (tests.aws_calls), every invocation here."""

from __future__ import annotations

import json
import time
from collections import Counter

from tests.functions.agents import connect
from tests.functions.events import http_event
from tests.functions.test_tunnel_round_trip import answer_requests
from tunnel_infra.cost import PER_REQUEST

REQUESTS = 5


def test_a_warm_requests_calls_are_the_ones_the_cost_model_prices(functions, monkeypatch, capsys):
    connection_id, _ = connect(functions, "ivy", "costs")
    # A first request warms the container: its answers connection and whoami, the reply key,
    # the token record; none of that is per request.
    agent = answer_requests(functions, connection_id)
    assert functions.invoke("forwarding", http_event("costs"))["statusCode"] == 200
    agent.join()

    invocations: Counter[str] = Counter()
    invoke = functions.invoke

    def counted(name, event):  # noqa: ANN001, ANN202 - the fixture's own signature
        invocations[name] += 1
        return invoke(name, event)

    monkeypatch.setattr(functions, "invoke", counted)
    capsys.readouterr()
    made = len(functions.recorder.made)
    started = time.monotonic()
    agent = answer_requests(functions, connection_id, count=REQUESTS)
    for _ in range(REQUESTS):
        assert functions.invoke("forwarding", http_event("costs"))["statusCode"] == 200
    agent.join()
    elapsed = time.monotonic() - started
    calls = functions.recorder.made[made:]
    # A request that waited past 0.5 s read the claim again (liveness): counted by forwarding.
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    liveness = sum(line.get("livenessChecks", 0) for line in lines)

    assert invocations == {
        "forwarding": REQUESTS,
        "response": REQUESTS * (PER_REQUEST.lambda_invocations - 1),
    }
    connections = functions.connections.name
    claim_reads = [
        c
        for c in calls
        if c.operation == "dynamodb:GetItem" and c.table == connections and c.consistent
    ]
    assert len(claim_reads) == REQUESTS * PER_REQUEST.consistent_reads + liveness
    writes = [c for c in calls if c.operation == "dynamodb:UpdateItem"]
    assert len(writes) == REQUESTS * PER_REQUEST.writes
    assert {c.function for c in writes} == {"forwarding"}  # response writes nothing for an answer
    token_reads = [c for c in calls if c.table == functions.tokens.name]
    assert len(token_reads) <= 1 + elapsed / 5  # at most one per 5 s in this container
    dynamodb = {c.operation for c in calls if c.operation.startswith("dynamodb:")}
    assert dynamodb <= {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    # Messages: each request posted to the agent, its response received, the answer posted on.
    posts = [c for c in calls if c.operation == "execute-api:PostToConnection"]
    to_agent = [c for c in posts if not c.answers]
    answers = [c for c in posts if c.answers]
    assert len(to_agent) == len(answers) == REQUESTS
    received = invocations["response"]
    assert len(posts) + received == REQUESTS * PER_REQUEST.websocket_messages
