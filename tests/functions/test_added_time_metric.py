"""forwarding's ``TunnelAddedMilliseconds``: one EMF data point per answered request, the
invocation's time less the wait for the agent; none for a request that was not answered."""

from __future__ import annotations

import json

from tunnel_shared import capacity

from tests.functions.agents import connect
from tests.functions.events import http_event
from tests.functions.test_tunnel_round_trip import answer_requests


def forwarding_lines(output: str, subdomain: str) -> list[dict]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [
        line
        for line in lines
        if line.get("function") == "forwarding" and line.get("subdomain") == subdomain
    ]


def test_the_builder_makes_one_millisecond_data_point_by_environment():
    fields = capacity.added_time_metric("dev", 12.345, 1700000000.5)
    (directive,) = fields["_aws"]["CloudWatchMetrics"]
    assert fields["_aws"]["Timestamp"] == 1700000000500
    assert directive == {
        "Namespace": capacity.METRIC_NAMESPACE,
        "Dimensions": [["Environment"]],
        "Metrics": [{"Name": "TunnelAddedMilliseconds", "Unit": "Milliseconds"}],
    }
    assert (fields["Environment"], fields["TunnelAddedMilliseconds"]) == ("dev", 12.3)
    # A clock step cannot make it negative.
    assert capacity.added_time_metric("dev", -3, 0)["TunnelAddedMilliseconds"] == 0


def test_an_answered_request_is_a_data_point_of_the_time_the_tunnel_added(
    functions, monkeypatch, capsys
):
    monkeypatch.setenv("ENVIRONMENT", "dev")
    owner, _ = connect(functions, "timed", "stopwatch")
    agent = answer_requests(functions, owner)
    assert functions.invoke("forwarding", http_event("stopwatch"))["statusCode"] == 200
    agent.join()
    (line,) = forwarding_lines(capsys.readouterr().out, "stopwatch")
    assert line["outcome"] == "answered"
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": "TunnelAddedMilliseconds", "Unit": "Milliseconds"}]
    assert line["Environment"] == "dev"
    added = line["TunnelAddedMilliseconds"]
    # The invocation's whole time is the tunnel's part plus the agent's.
    assert 0 < added < line["ms"]
    assert added + line["agentMs"] <= line["ms"] + 0.2


def test_a_request_nobody_answers_is_no_data_point(functions, capsys):
    assert functions.invoke("forwarding", http_event("nobody-here"))["statusCode"] == 404
    lines = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and '"forwarding"' in line
    ]
    assert lines and all("TunnelAddedMilliseconds" not in line for line in lines)
