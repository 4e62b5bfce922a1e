"""rules.check_cloudwatch_role: API Gateway's account setting takes only a role that exists and
trusts apigateway.amazonaws.com (update-account and AWS::ApiGateway::Account)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aws_fidelity import rules

from .conftest import Account, handler_message

NOT_PERMITTED = (
    "The role ARN does not have required permissions configured. Please grant trust permission "
    "for API Gateway and add the required role policy."
)


def trust(service: str, effect: str = "Allow", action: Any = "sts:AssumeRole") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Principal": {"Service": service}, "Action": action}],
    }


def set_role(account: Account, role_arn: str) -> dict[str, Any]:
    return account.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}]
    )


def test_the_rule() -> None:
    for trusted in (None, set(), {"lambda.amazonaws.com"}):
        with pytest.raises(rules.Refused) as refused:
            rules.check_cloudwatch_role("arn:aws:iam::1:role/r", trusted)
        assert (refused.value.code, refused.value.message) == ("BadRequestException", NOT_PERMITTED)
    rules.check_cloudwatch_role("arn:aws:iam::1:role/r", {"apigateway.amazonaws.com"})

    api_gateway = {"apigateway.amazonaws.com"}
    assert rules.role_trusted_services(trust("apigateway.amazonaws.com")) == api_gateway
    assert rules.role_trusted_services(trust(["apigateway.amazonaws.com", "x"])) == {
        "apigateway.amazonaws.com",
        "x",
    }
    assert rules.role_trusted_services(trust("apigateway.amazonaws.com", action=["sts:*"])) == (
        api_gateway
    )
    assert rules.role_trusted_services(trust("apigateway.amazonaws.com", effect="Deny")) == set()
    assert rules.role_trusted_services(trust("apigateway.amazonaws.com", action="iam:*")) == set()


def test_update_account_refuses_a_missing_or_untrusting_role(fresh_account: Account) -> None:
    iam = fresh_account.client("iam")
    gateway = fresh_account.client("apigateway")
    wrong = iam.create_role(
        RoleName="lambda-only", AssumeRolePolicyDocument=json.dumps(trust("lambda.amazonaws.com"))
    )["Role"]["Arn"]
    for arn in (wrong, "arn:aws:iam::123456789012:role/missing"):
        with pytest.raises(gateway.exceptions.BadRequestException) as refused:
            set_role(fresh_account, arn)
        assert refused.value.response["Error"]["Message"] == NOT_PERMITTED
    assert gateway.get_account().get("cloudwatchRoleArn") is None

    right = iam.create_role(
        RoleName="apigateway-logs",
        AssumeRolePolicyDocument=json.dumps(trust("apigateway.amazonaws.com")),
    )["Role"]["Arn"]
    assert set_role(fresh_account, right)["cloudwatchRoleArn"] == right
    assert gateway.get_account()["cloudwatchRoleArn"] == right


def account_stack(service: str) -> dict[str, Any]:
    return {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": trust(service)},
        },
        "ApiGatewayAccount": {
            "Type": "AWS::ApiGateway::Account",
            "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["Role", "Arn"]}},
        },
    }


def test_an_account_resource_with_an_untrusting_role_fails_its_stack(
    fresh_account: Account,
) -> None:
    stack = fresh_account.stack("account", account_stack("lambda.amazonaws.com"))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    logical_id, status, reason = fresh_account.failure("account")
    assert (logical_id, status) == ("ApiGatewayAccount", "CREATE_FAILED")
    assert handler_message(reason) == (NOT_PERMITTED, "ApiGateway", 400)
    assert fresh_account.client("apigateway").get_account().get("cloudwatchRoleArn") is None


def test_the_account_resource_sets_the_role_and_deleting_it_leaves_it(
    fresh_account: Account,
) -> None:
    template = {
        "Resources": account_stack("apigateway.amazonaws.com"),
        "Outputs": {"Id": {"Value": {"Fn::GetAtt": ["ApiGatewayAccount", "Id"]}}},
    }
    stack = fresh_account.client("cloudformation")
    stack.create_stack(StackName="account", TemplateBody=json.dumps(template))
    described = stack.describe_stacks(StackName="account")["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in stack.list_stack_resources(StackName="account")["StackResourceSummaries"]
    }
    assert resources["ApiGatewayAccount"]  # Ref: an id of its own
    assert described["Outputs"][0]["OutputValue"] == resources["ApiGatewayAccount"]
    role_arn = fresh_account.client("iam").get_role(RoleName=resources["Role"])["Role"]["Arn"]
    assert fresh_account.client("apigateway").get_account()["cloudwatchRoleArn"] == role_arn

    # "When you delete a stack containing this resource, API Gateway can still assume the
    # provided IAM role" (AWS::ApiGateway::Account): the setting stays.
    stack.delete_stack(StackName="account")
    assert fresh_account.client("apigateway").get_account()["cloudwatchRoleArn"] == role_arn
