"""rules.check_websocket_stage_logging: a WebSocket stage that logs needs the account's
CloudWatch role; HTTP stages do not."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from aws_fidelity import rules
from tunnel_infra.aws import apigatewayv2

from .conftest import Account, handler_message

ACCESS_LOGS = {
    "DestinationArn": {"Fn::GetAtt": ["Logs", "Arn"]},
    "Format": json.dumps(apigatewayv2.WEBSOCKET_ACCESS_LOG_FIELDS),
}


def websocket_stage(**stage: Any) -> dict[str, Any]:
    """Like the routes stack's: a WebSocket API, its log group, a stage with ``stage``."""
    return {
        "Api": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": "ws",
                "ProtocolType": "WEBSOCKET",
                "RouteSelectionExpression": "$request.body.action",
            },
        },
        "Logs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": "/aws/apigateway/ws-access"},
        },
        "Stage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "dev", **stage},
        },
    }


@pytest.fixture
def account_template(templates: dict[str, dict]) -> dict[str, Any]:
    """The project's own account stack (API Gateway's CloudWatch role), as rendered."""
    return templates["account/api-gateway-logging"]


def assert_refused(account: Account, stack: dict[str, Any]) -> None:
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    logical_id, status, reason = account.failure(stack["StackName"])
    assert (logical_id, status) == ("Stage", "CREATE_FAILED")
    assert handler_message(reason) == (
        "CloudWatch Logs role ARN must be set in account settings to enable logging",
        "ApiGatewayV2",
        400,
    )


def test_the_rule() -> None:
    with pytest.raises(rules.Refused) as refused:
        rules.check_websocket_stage_logging("WEBSOCKET", True, None)
    assert (refused.value.code, refused.value.message) == (
        "BadRequestException",
        "CloudWatch Logs role ARN must be set in account settings to enable logging",
    )
    rules.check_websocket_stage_logging("HTTP", True, None)  # HTTP stages need no role
    rules.check_websocket_stage_logging("WEBSOCKET", False, None)
    rules.check_websocket_stage_logging("WEBSOCKET", True, "arn:aws:iam::1:role/r")


@pytest.mark.parametrize(
    "stage",
    [
        {"AccessLogSettings": ACCESS_LOGS},
        {"DefaultRouteSettings": {"LoggingLevel": "INFO"}},
        {"DefaultRouteSettings": {"DataTraceEnabled": True}},
        {"RouteSettings": {"$connect": {"LoggingLevel": "ERROR"}}},
    ],
    ids=["access-logs", "logging-level", "data-trace", "route-logging-level"],
)
def test_a_logging_websocket_stage_fails_its_stack_on_a_fresh_account(
    fresh_account: Account, stage: dict[str, Any]
) -> None:
    assert fresh_account.client("apigateway").get_account().get("cloudwatchRoleArn") is None
    stack = fresh_account.stack("routes", websocket_stage(**stage))
    assert_refused(fresh_account, stack)
    # Rolled back: the API and log group created before the stage are gone.
    assert fresh_account.client("apigatewayv2").get_apis()["Items"] == []
    logs = fresh_account.client("logs").describe_log_groups(logGroupNamePrefix="/aws/apigateway")
    assert logs["logGroups"] == []
    resources = fresh_account.client("cloudformation").list_stack_resources(StackName="routes")
    assert resources["StackResourceSummaries"] == []


def test_stages_that_do_not_log_or_are_http_need_no_role(fresh_account: Account) -> None:
    quiet = websocket_stage(DefaultRouteSettings={"LoggingLevel": "OFF", "DataTraceEnabled": False})
    assert fresh_account.stack("quiet", quiet)["StackStatus"] == "CREATE_COMPLETE"
    http = copy.deepcopy(websocket_stage(AccessLogSettings=ACCESS_LOGS))
    http["Api"]["Properties"] = {"Name": "http", "ProtocolType": "HTTP"}
    http["Logs"]["Properties"]["LogGroupName"] = "/aws/apigateway/http-access"
    http["Stage"]["Properties"]["AccessLogSettings"]["Format"] = json.dumps(
        apigatewayv2.HTTP_ACCESS_LOG_FIELDS
    )
    assert fresh_account.stack("http", http)["StackStatus"] == "CREATE_COMPLETE"


def test_the_account_stack_first_then_the_stage_is_created(
    fresh_account: Account, account_template: dict[str, Any]
) -> None:
    logging_stage = websocket_stage(AccessLogSettings=ACCESS_LOGS)
    assert_refused(fresh_account, fresh_account.stack("routes-before", logging_stage))

    account = fresh_account.stack("account", template=account_template)
    assert account["StackStatus"] == "CREATE_COMPLETE"
    role_arn = {o["OutputKey"]: o["OutputValue"] for o in account["Outputs"]}[
        "ApiGatewayCloudWatchRoleArn"
    ]
    assert fresh_account.client("apigateway").get_account()["cloudwatchRoleArn"] == role_arn

    assert fresh_account.stack("routes", logging_stage)["StackStatus"] == "CREATE_COMPLETE"
    (stage,) = fresh_account.client("apigatewayv2").get_stages(
        ApiId=fresh_account.client("apigatewayv2").get_apis()["Items"][0]["ApiId"]
    )["Items"]
    assert stage["AccessLogSettings"]["Format"] == ACCESS_LOGS["Format"]


def test_the_role_is_per_region(fresh_account: Account, account_template: dict[str, Any]) -> None:
    account = fresh_account.stack("account", template=account_template)
    assert account["StackStatus"] == "CREATE_COMPLETE"
    elsewhere = fresh_account.in_region("eu-west-1")
    assert elsewhere.client("apigateway").get_account().get("cloudwatchRoleArn") is None
    assert_refused(
        elsewhere, elsewhere.stack("routes", websocket_stage(AccessLogSettings=ACCESS_LOGS))
    )


def test_create_stage_and_update_stage_refuse_it_too(fresh_account: Account) -> None:
    gateway = fresh_account.client("apigatewayv2")
    api = gateway.create_api(
        Name="direct", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    logs = {
        "DestinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:ws",
        "Format": "$context.requestId $context.connectionId",
    }
    with pytest.raises(gateway.exceptions.BadRequestException) as refused:
        gateway.create_stage(ApiId=api["ApiId"], StageName="dev", AccessLogSettings=logs)
    assert refused.value.response["Error"]["Message"] == rules.NO_CLOUDWATCH_ROLE

    gateway.create_stage(ApiId=api["ApiId"], StageName="dev")  # no logs: fine
    with pytest.raises(gateway.exceptions.BadRequestException) as refused:
        gateway.update_stage(
            ApiId=api["ApiId"], StageName="dev", DefaultRouteSettings={"LoggingLevel": "INFO"}
        )
    assert refused.value.response["Error"]["Message"] == rules.NO_CLOUDWATCH_ROLE
    stage = gateway.get_stage(ApiId=api["ApiId"], StageName="dev")
    assert stage["DefaultRouteSettings"]["LoggingLevel"] == "OFF"  # unchanged

    # An update that does not log goes through, and keeps what it does not name.
    gateway.update_stage(ApiId=api["ApiId"], StageName="dev", Description="agents")
    stage = gateway.get_stage(ApiId=api["ApiId"], StageName="dev")
    assert (stage["Description"], stage["DefaultRouteSettings"]["LoggingLevel"]) == (
        "agents",
        "OFF",
    )


def test_turning_logging_on_in_an_update_rolls_it_back(fresh_account: Account) -> None:
    assert fresh_account.stack("routes", websocket_stage())["StackStatus"] == "CREATE_COMPLETE"
    stack = fresh_account.update("routes", websocket_stage(AccessLogSettings=ACCESS_LOGS))
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    logical_id, status, reason = fresh_account.failure("routes")
    assert (logical_id, status) == ("Stage", "UPDATE_FAILED")
    assert handler_message(reason)[0] == rules.NO_CLOUDWATCH_ROLE
    gateway = fresh_account.client("apigatewayv2")
    (stage,) = gateway.get_stages(ApiId=gateway.get_apis()["Items"][0]["ApiId"])["Items"]
    assert "AccessLogSettings" not in stage
