"""What the gateway says when the configuration it serves changes (follow.describe_changes):
a few words per change, alike changes grouped, code left to the runtime's own line."""

from __future__ import annotations

from dataclasses import replace

from local_gateway.deployment import (
    Api,
    Authorizer,
    DeployedFunction,
    Deployment,
    Integration,
    Route,
)
from local_gateway.follow import describe_changes

ARN = "arn:aws:lambda:us-east-1:123456789012:function:http-tunnel-{}-dev"
URI = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{}/invocations"


def function(name: str, **changes: object) -> DeployedFunction:
    deployed = DeployedFunction(
        name=f"http-tunnel-{name}-dev",
        arn=ARN.format(name),
        handler="handler.handler",
        timeout_seconds=30,
        memory_mb=256,
        environment={"ENVIRONMENT": "dev"},
        policy={"Statement": []},
        code_sha256="abc=",
    )
    return replace(deployed, **changes)


def api(api_id: str, routes: dict[str, str], **changes: object) -> Api:
    """``routes``: route key -> the function its integration invokes."""
    integrations = {
        f"i-{name}": Integration(
            f"i-{name}", "AWS_PROXY", URI.format(ARN.format(name)), "2.0", None
        )
        for name in routes.values()
    }
    built = Api(
        api_id,
        "HTTP",
        "",
        {key: Route(key, f"integrations/i-{name}", "NONE", None) for key, name in routes.items()},
        integrations,
        {},
        {"$default": {}},
    )
    return replace(built, **changes)


def deployment(http: Api, functions: list[DeployedFunction]) -> Deployment:
    websocket = api("ws1", {}, protocol_type="WEBSOCKET", stages={"dev": {}})
    return Deployment(
        "dev", "us-east-1", "123456789012", websocket, http, {f.arn: f for f in functions}
    )


BEFORE = deployment(api("http1", {"$default": "forwarding"}), [function("forwarding")])


def test_nothing_changed_says_nothing():
    assert describe_changes(BEFORE, replace(BEFORE)) == []


def test_routes_added_and_removed_are_grouped():
    after = deployment(
        api("http1", {"GET /x": "forwarding", "GET /y": "forwarding"}), [function("forwarding")]
    )
    assert describe_changes(BEFORE, after) == [
        "HTTP route $default removed",
        "HTTP routes GET /x, GET /y added",
    ]


def test_a_route_whose_integration_changed_is_changed():
    http = BEFORE.http
    slower = {"i-forwarding": replace(http.integrations["i-forwarding"], timeout_ms=1000)}
    after = replace(BEFORE, http=replace(http, integrations=slower))
    assert describe_changes(BEFORE, after) == ["HTTP route $default changed"]


def test_a_function_s_settings_and_permissions():
    changed = function(
        "forwarding", environment={"ENVIRONMENT": "dev", "X": "1"}, timeout_seconds=3, policy=None
    )
    after = deployment(BEFORE.http, [changed])
    assert describe_changes(BEFORE, after) == [
        "forwarding timeout, environment, invoke permissions changed"
    ]


def test_new_code_alone_is_left_to_the_runtime():
    after = deployment(BEFORE.http, [function("forwarding", code_sha256="def=")])
    assert describe_changes(BEFORE, after) == []


def test_stages_authorizers_and_the_endpoint():
    authorizer = Authorizer("a1", "REQUEST", None, ("route.request.querystring.token",))
    http = replace(
        BEFORE.http,
        stages={"$default": {"v": "1"}},
        authorizers={"a1": authorizer},
        disable_execute_api_endpoint=True,
    )
    assert describe_changes(BEFORE, replace(BEFORE, http=http)) == [
        "HTTP authorizer a1 added",
        "HTTP stage $default changed",
        "HTTP API execute-api endpoint disabled",
    ]
