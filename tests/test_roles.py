"""Every role's permissions are exactly the declared ones, in every environment."""

from __future__ import annotations

import pytest

from tests.iam_policies import role_permissions
from tunnel_infra.render import ENVIRONMENTS

TABLE = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"
CONNECTIONS = TABLE + "${ConnectionsTableName}"
TOKENS = TABLE + "${TokensTableName}"
BODIES = "arn:${AWS::Partition}:s3:::${BodiesBucketName}/spill/*"
XRAY = {("xray:PutTelemetryRecords", "*"), ("xray:PutTraceSegments", "*")}


def own_logs(title: str) -> set[tuple[str, str]]:
    group = f"GetAtt {title}LogGroup.Arn"
    return {("logs:CreateLogStream", group), ("logs:PutLogEvents", group)}


def connections(environment: str, method: str) -> str:
    return (
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        f"${{WebSocketApiId}}/{environment}/{method}/@connections/*"
    )


def answers(environment: str, resource: str) -> str:
    """The internal answers API: its $connect route, or its @connections by method."""
    return (
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        f"${{AnswersApiId}}/{environment}/{resource}"
    )


REPLY_KEY = ("secretsmanager:GetSecretValue", "Ref ReplyKeySecretArn")


def expected(environment: str) -> dict[str, set[tuple[str, str]]]:
    declared = {
        "Authorizer": {
            ("secretsmanager:GetSecretValue", "Ref SigningKeySecretArn"),
            ("dynamodb:GetItem", TOKENS),
        },
        "Connect": {
            ("dynamodb:PutItem", CONNECTIONS),
            ("dynamodb:GetItem", CONNECTIONS),
            ("dynamodb:UpdateItem", CONNECTIONS),
            ("dynamodb:DeleteItem", CONNECTIONS),
            ("dynamodb:GetItem", TOKENS),
            ("execute-api:ManageConnections", connections(environment, "GET")),
            ("execute-api:ManageConnections", connections(environment, "POST")),
            ("execute-api:ManageConnections", connections(environment, "DELETE")),
        },
        "Disconnect": {("dynamodb:DeleteItem", CONNECTIONS)},
        "Forwarding": {
            ("execute-api:ManageConnections", connections(environment, "GET")),
            ("execute-api:ManageConnections", connections(environment, "POST")),
            ("execute-api:ManageConnections", connections(environment, "DELETE")),
            ("dynamodb:GetItem", TOKENS),
            ("dynamodb:GetItem", CONNECTIONS),
            ("dynamodb:UpdateItem", CONNECTIONS),
            ("dynamodb:DeleteItem", CONNECTIONS),
            ("s3:PutObject", BODIES),
            ("s3:GetObject", BODIES),
            ("s3:DeleteObject", BODIES),
            ("execute-api:Invoke", answers(environment, "$connect")),
            REPLY_KEY,
        },
        "Response": {
            ("dynamodb:UpdateItem", CONNECTIONS),
            ("execute-api:ManageConnections", connections(environment, "POST")),
            ("execute-api:ManageConnections", connections(environment, "DELETE")),
            ("execute-api:ManageConnections", answers(environment, "POST/@connections/*")),
            REPLY_KEY,
        },
    }
    customer_key = {("kms:Decrypt", "Ref DataKeyArn")} if environment == "prod" else set()
    return {
        f"{title}Role": access | own_logs(title) | XRAY | customer_key
        for title, access in declared.items()
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_role_allows_exactly_its_declared_access(templates, environment):
    assert role_permissions(templates[f"{environment}/functions"]) == expected(environment)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_one_role_per_function(templates, environment):
    resources = templates[f"{environment}/functions"]["Resources"]
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(roles) == len(set(roles)) == len(functions) == 5


def test_no_other_stack_has_roles(templates):
    for name, template in templates.items():
        if not name.endswith("/functions") and name != "account/api-gateway-logging":
            assert role_permissions(template) == {}, name


def test_the_api_gateway_logging_role_writes_logs_of_its_account_and_region_only(templates):
    log_groups = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    actions = (
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
        "logs:FilterLogEvents",
        "logs:GetLogEvents",
        "logs:PutLogEvents",
    )  # AmazonAPIGatewayPushToCloudWatchLogs's actions, without its Resource "*"
    template = templates["account/api-gateway-logging"]
    assert role_permissions(template) == {
        "ApiGatewayLoggingRole": {
            (action, resource)
            for action in actions
            for resource in (log_groups, f"{log_groups}:log-stream:*")
        }
    }
    trust = template["Resources"]["ApiGatewayLoggingRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [
        {
            "Action": ["sts:AssumeRole"],
            "Effect": "Allow",
            "Principal": {"Service": "apigateway.amazonaws.com"},
        }
    ]
    account = template["Resources"]["ApiGatewayAccount"]["Properties"]
    assert account == {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]}}
