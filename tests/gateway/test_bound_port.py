"""``python -m local_gateway --port 0``: the gateway binds a port of its own choice, says which,
and gives the functions URLs with that port (not 0) before it serves."""

from __future__ import annotations

import json
import re

from local_gateway import testing
from tests.gateway.conftest import http_request
from tests.gateway.websocket_client import open_socket


def test_the_package_gateway_was_started_on_a_port_of_its_choice(gateway):
    assert gateway.process.args[gateway.process.args.index("--port") + 1] == "0"
    assert gateway.port != 0
    (ready,) = [line for line in gateway.log().splitlines() if " ready on " in line]
    assert set(re.findall(r"127\.0\.0\.1:(\d+)|localhost:(\d+)", ready)) == {
        (str(gateway.port), ""),
        ("", str(gateway.port)),
    }
    assert f"@connections http://127.0.0.1:{gateway.port}/dev/@connections" in ready


def test_it_answers_on_the_port_it_named(gateway):
    status, _, body = http_request(gateway, "GET", "/nothing", host=f"127.0.0.1:{gateway.port}")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_the_functions_reach_its_connections_endpoint_on_that_port(gateway):
    # The response handler posts the reply to CONNECTIONS_ENDPOINT: with port 0 there, or any
    # port but the real one, nothing would come back.
    with open_socket(gateway, "token=allow") as socket:
        socket.send(json.dumps({"reply": "through the bound port"}))
        assert socket.recv(timeout=10) == "through the bound port"


def test_two_gateways_get_two_ports(launched, gateway):
    other = testing.start(env=launched.environment)
    try:
        assert other.port not in (0, gateway.port)
        status, _, _ = http_request(other, "GET", "/nothing", host=f"127.0.0.1:{other.port}")
        assert status == 404
    finally:
        testing.stop(other)
