"""The gateway's decisions that need no server: IAM policies, HTTP route selection and each
function's environment."""

from __future__ import annotations

from pathlib import Path

from local_gateway.deployment import DeployedFunction, Route
from local_gateway.http_routes import select
from local_gateway.iam import api_gateway_may_invoke, policy_allows_invoke
from local_gateway.lambda_runtime import function_environment, pass_env_names

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


def deployed(name: str, environment: dict[str, str]) -> DeployedFunction:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    return DeployedFunction(name, arn, "handler.handler", 3, 256, environment, None)


GATEWAY = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/operator",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_PROFILE": "operator",
    "CONNECTIONS_TABLE": "from-the-operators-shell",
    "RECORDS": "/tmp/records",
}
OVERRIDES = {"CONNECTIONS_ENDPOINT": "http://127.0.0.1:1/dev", "PUBLIC_URL_FORMAT": "http://{x}"}


def test_a_function_gets_its_own_variables_the_runtimes_and_the_gateways_credentials():
    function = deployed("f", {"A": "1", "CONNECTIONS_ENDPOINT": "https://x.execute-api/dev"})
    environment = function_environment(function, "eu-west-1", Path("/code/f"), GATEWAY, OVERRIDES)
    assert environment == {
        "A": "1",
        # Overridden where deployed; PUBLIC_URL_FORMAT, not deployed, is not added.
        "CONNECTIONS_ENDPOINT": "http://127.0.0.1:1/dev",
        "_HANDLER": "handler.handler",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f",
        "LAMBDA_TASK_ROOT": "/code/f",
        "TZ": ":UTC",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PATH": "/usr/bin:/bin",
        "PYTHONUNBUFFERED": "1",
    }


def test_only_named_local_variables_pass_and_a_deployed_one_wins():
    function = deployed("f", {"CONNECTIONS_TABLE": "deployed"})
    environment = function_environment(
        function, "us-east-1", Path("/f"), GATEWAY, {}, pass_env=("RECORDS", "CONNECTIONS_TABLE")
    )
    assert environment["RECORDS"] == "/tmp/records"
    assert environment["CONNECTIONS_TABLE"] == "deployed"
    assert "HOME" not in environment and "AWS_PROFILE" not in environment
    other = function_environment(deployed("g", {}), "us-east-1", Path("/g"), GATEWAY, {})
    assert "CONNECTIONS_TABLE" not in other and "RECORDS" not in other


def test_pass_env_names_are_comma_separated():
    assert pass_env_names({"LOCAL_GATEWAY_PASS_ENV": " A, B,,C "}) == ("A", "B", "C")
    assert pass_env_names({}) == ()
