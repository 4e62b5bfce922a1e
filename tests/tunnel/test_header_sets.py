"""One definition of the headers each hop drops (tunnel_shared.headers), used by the forwarding
function, the agent and the local gateway: the three used to keep sets with different members
(the gateway passed ``Upgrade`` and ``Trailer`` on, forwarding ``Trailer`` and the ``Proxy-*``
pair)."""

from __future__ import annotations

import json

import pytest
from tunnel_shared import headers

from local_gateway.http_events import response_from
from tunnel_cli import forward

ONE_HOP = sorted(headers.HOP_BY_HOP)


def test_the_agent_uses_the_shared_set():
    assert forward.HOP_BY_HOP is headers.HOP_BY_HOP


@pytest.mark.parametrize("name", ONE_HOP)
def test_the_local_gateway_answers_without_any_hop_by_hop_header(name):
    result = {"statusCode": 200, "headers": {name: "x", "x-app": "kept"}, "body": ""}
    answer = response_from(result, json.dumps(result))
    assert [n for n, _ in answer.headers] == ["x-app"]


@pytest.mark.parametrize("name", ONE_HOP)
def test_the_agent_sends_no_hop_by_hop_header_of_the_local_service(name):
    kept = forward.response_headers([(name.title(), "x"), ("X-App", "kept")])
    assert kept == [("X-App", "kept")]


def test_connection_options_name_headers_case_blind_and_skip_blanks():
    pairs = [("Connection", "X-Forwarded-For, ,keep-alive"), ("connection", "close")]
    assert headers.named_by_connection(pairs) == {"x-forwarded-for", "keep-alive", "close"}


def test_the_edge_keeps_host_whatever_connection_names():
    dropped = headers.edge_dropped([("connection", "host, x-real-ip, x-mine")])
    assert "host" not in dropped
    assert {"connection", "x-real-ip", "x-mine", "true-client-ip"} <= dropped
