"""rules.check_websocket_stage_logging and rules.check_cloudwatch_role."""

from __future__ import annotations

import json

import pytest

from aws_fidelity import rules

LOGGING_STAGE = {
    "Api": {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {
            "Name": "ws",
            "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": "$request.body.action",
        },
    },
    "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/apigateway/ws"}},
    "Stage": {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {
            "ApiId": {"Ref": "Api"},
            "StageName": "dev",
            "AccessLogSettings": {
                "DestinationArn": {"Fn::GetAtt": ["Logs", "Arn"]},
                "Format": '{"id": "$context.requestId"}',
            },
        },
    },
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "apigateway.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def test_the_rule():
    with pytest.raises(rules.Refused, match=rules.NO_CLOUDWATCH_ROLE):
        rules.check_websocket_stage_logging("WEBSOCKET", True, None)
    rules.check_websocket_stage_logging("HTTP", True, None)  # HTTP stages need no role
    rules.check_websocket_stage_logging("WEBSOCKET", False, None)
    rules.check_websocket_stage_logging("WEBSOCKET", True, "arn:aws:iam::1:role/r")


def test_a_logging_websocket_stage_fails_its_stack_on_a_fresh_account(account):
    assert account.client("apigateway").get_account().get("cloudwatchRoleArn") is None
    stack = account.stack("old-routes", LOGGING_STAGE)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    logical_id, reason = account.failure("old-routes")
    assert logical_id == "Stage"
    assert "CloudWatch Logs role ARN must be set in account settings to enable logging" in reason
    # Rolled back: the API created before the stage is gone too.
    assert account.client("apigatewayv2").get_apis()["Items"] == []


def test_the_role_must_exist_and_trust_api_gateway(account):
    iam = account.client("iam")
    lambda_trust = json.loads(json.dumps(TRUST).replace("apigateway", "lambda"))
    wrong = iam.create_role(RoleName="wrong", AssumeRolePolicyDocument=json.dumps(lambda_trust))
    for arn in (wrong["Role"]["Arn"], "arn:aws:iam::123456789012:role/missing"):
        with pytest.raises(account.client("apigateway").exceptions.BadRequestException) as raised:
            account.client("apigateway").update_account(
                patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
            )
        assert "does not have required permissions configured" in str(raised.value)


def test_once_the_account_stack_set_the_role_the_stage_is_created(account):
    stack = account.stack(
        "account",
        {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": TRUST},
            },
            "ApiGatewayAccount": {
                "Type": "AWS::ApiGateway::Account",
                "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["Role", "Arn"]}},
            },
        },
    )
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert (
        account.client("apigateway")
        .get_account()["cloudwatchRoleArn"]
        .endswith(
            "/"
            + account.client("cloudformation").describe_stack_resource(
                StackName="account", LogicalResourceId="Role"
            )["StackResourceDetail"]["PhysicalResourceId"]
        )
    )
    assert account.stack("routes", LOGGING_STAGE)["StackStatus"] == "CREATE_COMPLETE"
