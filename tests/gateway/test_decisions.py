"""The gateway's decisions that need no server: IAM policies, HTTP route selection and the
functions' shared environment."""

from __future__ import annotations

import pytest

from local_gateway.deployment import Api, DeployedFunction, Deployment, DeploymentError, Route
from local_gateway.http_routes import select
from local_gateway.iam import api_gateway_may_invoke, policy_allows_invoke
from local_gateway.lambda_runtime import merged_environment

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/$connect"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:http-tunnel-connect-dev"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(resource: str, action: str = "execute-api:Invoke", effect: str = "Allow") -> dict:
    return {"Effect": effect, "Action": action, "Resource": resource}


def test_an_authorizer_policy_must_allow_invoke_on_the_method_arn():
    assert policy_allows_invoke(policy(allow(METHOD_ARN)), METHOD_ARN)
    assert policy_allows_invoke(policy(allow("arn:aws:execute-api:*:*:abc123/*")), METHOD_ARN)
    assert policy_allows_invoke(policy(allow(METHOD_ARN, action="execute-api:*")), METHOD_ARN)
    assert not policy_allows_invoke(policy(allow(METHOD_ARN.replace("dev", "prod"))), METHOD_ARN)
    assert not policy_allows_invoke(policy(allow(METHOD_ARN, action="s3:GetObject")), METHOD_ARN)
    assert not policy_allows_invoke(policy(), METHOD_ARN)
    assert not policy_allows_invoke(None, METHOD_ARN)


def test_an_explicit_deny_wins_over_an_allow():
    both = policy(allow("*"), allow(METHOD_ARN, effect="Deny"))
    assert not policy_allows_invoke(both, METHOD_ARN)


def permission(source_arn: str, account: str = "123456789012") -> dict:
    return {
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": FUNCTION,
        "Condition": {
            "ArnLike": {"AWS:SourceArn": source_arn},
            "StringEquals": {"AWS:SourceAccount": account},
        },
    }


def test_a_function_permission_is_scoped_by_source_arn_and_account():
    granted = policy(permission(METHOD_ARN))
    assert api_gateway_may_invoke(granted, FUNCTION, METHOD_ARN, "123456789012")
    other_route = METHOD_ARN.replace("$connect", "$default")
    assert not api_gateway_may_invoke(granted, FUNCTION, other_route, "123456789012")
    assert not api_gateway_may_invoke(granted, FUNCTION, METHOD_ARN, "999999999999")
    wildcard = policy(permission("arn:aws:execute-api:us-east-1:123456789012:abc123/*"))
    assert api_gateway_may_invoke(wildcard, FUNCTION, other_route, "123456789012")
    assert not api_gateway_may_invoke(None, FUNCTION, METHOD_ARN, "123456789012")


def test_an_unknown_condition_makes_a_permission_not_apply():
    odd = permission(METHOD_ARN)
    odd["Condition"]["IpAddress"] = {"aws:SourceIp": "10.0.0.0/8"}
    assert not api_gateway_may_invoke(policy(odd), FUNCTION, METHOD_ARN, "123456789012")


def routes(*keys: str) -> list[Route]:
    return [Route(key, f"integrations/{i}", "NONE", None) for i, key in enumerate(keys)]


def test_the_most_specific_http_route_wins_and_default_catches_the_rest():
    table = routes("$default", "ANY /items/{proxy+}", "GET /items/{id}", "GET /items/special")
    assert select(table, "GET", "/items/special").route.key == "GET /items/special"
    match = select(table, "GET", "/items/42")
    assert (match.route.key, match.path_parameters) == ("GET /items/{id}", {"id": "42"})
    match = select(table, "DELETE", "/items/42/parts")
    assert (match.route.key, match.path_parameters) == (
        "ANY /items/{proxy+}",
        {"proxy": "42/parts"},
    )
    assert select(table, "GET", "/other").route.key == "$default"
    assert select(routes("GET /items/{id}"), "GET", "/other") is None


def deployment_with(*environments: dict[str, str]) -> Deployment:
    api = Api("api", "WEBSOCKET", "$request.body.action", {}, {}, {}, {})
    functions = {
        f"arn:{index}": DeployedFunction(
            f"f{index}", f"arn:{index}", "handler.handler", 3, 128, env, None
        )
        for index, env in enumerate(environments)
    }
    return Deployment("dev", "us-east-1", "123456789012", api, api, functions)


def test_the_functions_environment_is_their_union_with_local_overrides():
    deployed = deployment_with(
        {"A": "1", "CONNECTIONS_ENDPOINT": "https://x.execute-api/dev"}, {"B": "2"}
    )
    merged = merged_environment(deployed, {"CONNECTIONS_ENDPOINT": "http://127.0.0.1:1/dev"})
    assert merged == {"A": "1", "B": "2", "CONNECTIONS_ENDPOINT": "http://127.0.0.1:1/dev"}


def test_functions_that_disagree_on_a_variable_cannot_share_the_process():
    with pytest.raises(DeploymentError, match="disagree on environment variable A"):
        merged_environment(deployment_with({"A": "1"}, {"A": "2"}), {})
