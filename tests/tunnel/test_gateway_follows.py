"""The running local gateway follows the environment (local_gateway/follow.py): a function's new
environment, a route a stack update adds and removes, and a relaunch (sceptre delete, then
sceptre launch), each served without restarting it.

One launch for the module; the relaunch comes last (it replaces every API and the signing
secret)."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest

from local_gateway.testing import GatewayProcess
from tests.tunnel.conftest import SCEPTRE, Tunnel

ROUTES_STACK = "http-tunnel-dev-routes"
APIS_STACK = "http-tunnel-dev-apis"
FORWARDING = "http-tunnel-forwarding-dev"
# A route the stack update adds: it names no integration, so requests on it fail (500).
UNWIRED_ROUTE = """  FollowTestRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref HttpApiId
      RouteKey: GET /routes/unwired
"""
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log_lines(gateway: GatewayProcess, pattern: str) -> list[str]:
    return [line for line in gateway.log().splitlines() if re.search(pattern, line)]


def wait_for_log(gateway: GatewayProcess, pattern: str, count: int = 1, timeout: float = 60) -> str:
    """The ``count``-th line of the gateway's log that matches ``pattern``, once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = log_lines(gateway, pattern)
        if len(found) >= count:
            return found[count - 1]
        if gateway.process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"the gateway never logged {pattern!r}:\n{gateway.log_tail(60)}")


def api_ids(tunnel: Tunnel) -> tuple[str, str]:
    (stack,) = tunnel.client("cloudformation").describe_stacks(StackName=APIS_STACK)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    return outputs["WebSocketApiId"], outputs["HttpApiId"]


def test_a_function_environment_change_is_served_by_a_new_worker(tunnel):
    agent = tunnel.agent(tunnel.token("settings"))
    agent.wait_for(r"^Forwarding ")
    assert tunnel.request("settings", "GET", "/echo")[0] == 200
    lam = tunnel.client("lambda")
    variables = lam.get_function_configuration(FunctionName=FORWARDING)["Environment"]["Variables"]
    changed = "^local gateway: configuration of dev changed: forwarding environment changed$"

    lam.update_function_configuration(
        FunctionName=FORWARDING,
        Environment={"Variables": {**variables, "IN_FLIGHT_PER_TUNNEL": "0"}},
    )
    wait_for_log(tunnel.gateway, changed)
    status, _, body = tunnel.request("settings", "GET", "/echo")
    assert status == 429, body  # no request may be in flight on a tunnel any more

    lam.update_function_configuration(FunctionName=FORWARDING, Environment={"Variables": variables})
    wait_for_log(tunnel.gateway, changed, count=2)
    assert tunnel.request("settings", "GET", "/echo")[0] == 200


def update_routes_stack(tunnel: Tunnel, template: str) -> None:
    cloudformation = tunnel.client("cloudformation")
    (stack,) = cloudformation.describe_stacks(StackName=ROUTES_STACK)["Stacks"]
    cloudformation.update_stack(
        StackName=ROUTES_STACK,
        TemplateBody=template,
        Parameters=[
            {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
            for p in stack["Parameters"]
        ],
    )


def test_a_route_a_stack_update_adds_then_removes_is_followed(tunnel):
    agent = tunnel.agent(tunnel.token("routes"))
    agent.wait_for(r"^Forwarding ")
    assert tunnel.request("routes", "GET", "/unwired")[0] == 200  # the catch-all: to the app
    original = tunnel.client("cloudformation").get_template(StackName=ROUTES_STACK)["TemplateBody"]
    changed = original.replace("\nResources:\n", "\nResources:\n" + UNWIRED_ROUTE, 1)
    assert changed != original

    update_routes_stack(tunnel, changed)
    wait_for_log(
        tunnel.gateway,
        "^local gateway: configuration of dev changed: HTTP route GET /routes/unwired added$",
    )
    status, _, body = tunnel.request("routes", "GET", "/unwired")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    assert tunnel.request("routes", "GET", "/wired")[0] == 200

    # Updated again, the stack's status stays UPDATE_COMPLETE: its newest event tells.
    update_routes_stack(tunnel, original)
    wait_for_log(
        tunnel.gateway,
        "^local gateway: configuration of dev changed: HTTP route GET /routes/unwired removed$",
    )
    assert tunnel.request("routes", "GET", "/unwired")[0] == 200


@pytest.fixture(scope="module")
def relaunched(tunnel: Tunnel) -> dict[str, object]:
    """dev deleted and launched again under the running gateway, an agent connected before."""
    old_agent = tunnel.spawn(
        "http",
        str(tunnel.app.port),
        "--url",
        tunnel.gateway.websocket_url,
        "--token",
        tunnel.token("old"),
        "--no-inspect",
        environment={"TUNNEL_BACKOFF_MAX_SECONDS": "0.5"},
    )
    old_agent.wait_for(r"^Forwarding ")
    old_ids = api_ids(tunnel)
    deleted = tunnel.run(str(SCEPTRE), "--no-colour", "delete", "-y", "dev", timeout=300)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    gone = wait_for_log(tunnel.gateway, r"^local gateway: dev's stacks are gone")
    while_gone = tunnel.request("old", "GET", "/echo")
    launched = tunnel.run(str(SCEPTRE), "--no-colour", "launch", "-y", "dev", timeout=300)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    return {
        "old_agent": old_agent,
        "old_ids": old_ids,
        "new_ids": api_ids(tunnel),
        "gone": gone,
        "while_gone": while_gone,
    }


def test_deleted_stacks_close_the_agents_and_are_said_once(tunnel, relaunched):
    assert relaunched["gone"] == (
        "local gateway: dev's stacks are gone (make local to relaunch); waiting"
    )
    assert len(log_lines(tunnel.gateway, "stacks are gone")) == 1
    status, _, body = relaunched["while_gone"]
    assert status == 503
    assert json.loads(body) == {
        "message": "dev is not deployed: its stacks are gone (make local relaunches it)"
    }
    # The agent of the deleted API learnt it: closed with a reason, not left believing.
    relaunched["old_agent"].wait_for(
        r"connection lost \(code 1001: dev's WebSocket API was deleted\)"
    )


def test_after_a_relaunch_the_new_apis_are_served_and_old_tokens_refused(tunnel, relaunched):
    new_ws, new_http = relaunched["new_ids"]
    assert (new_ws, new_http) != relaunched["old_ids"]
    line = wait_for_log(tunnel.gateway, r"^local gateway: dev was relaunched: ")
    assert line == (
        f"local gateway: dev was relaunched: WebSocket API {new_ws}, HTTP API {new_http}; "
        f"tunnel URLs http://localhost:{tunnel.gateway.port}/{{subdomain}}"
    )
    # The agent of the deleted API reconnects with a token of the old signing secret: refused.
    old_agent = relaunched["old_agent"]
    old_agent.wait_for(r"the server refused the connection \(HTTP 40[13]\): the token is invalid")
    assert old_agent.process.wait(timeout=30) == 1
    # A token of the new secret: its agent's printed URL reaches the local service.
    new_agent = tunnel.agent(tunnel.token("new"))
    printed = new_agent.wait_for(r"^Forwarding (\S+) -> ").group(1)
    assert printed == f"http://localhost:{tunnel.gateway.port}/new"
    with DIRECT.open(printed + "/after/relaunch?q=1", timeout=30) as answer:
        assert answer.status == 200
        assert json.loads(answer.read())["target"] == "/after/relaunch?q=1"
    assert len(log_lines(tunnel.gateway, "was relaunched")) == 1
