"""rules.check_access_log_format: a stage's access-log format may use only its protocol's
$context variables. The old shared format put $context.connectionId on the HTTP stage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aws_fidelity import rules
from tunnel_infra.aws import apigatewayv2

from .conftest import handler_message

# The format both stages shared before (ACCESS_LOG_FIELDS).
OLD_SHARED_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "connectionId": "$context.connectionId",
        "sourceIp": "$context.identity.sourceIp",
        "integrationLatency": "$context.integrationLatency",
        "errorMessage": "$context.error.message",
    }
)


def refusal(protocol: str, log_format: str) -> str:
    with pytest.raises(rules.Refused) as refused:
        rules.check_access_log_format(protocol, log_format)
    assert refused.value.code == "BadRequestException"
    return refused.value.message


def test_the_rule() -> None:
    assert refusal("HTTP", OLD_SHARED_FORMAT) == (
        "The following context variables are not supported: [$context.connectionId]"
    )
    assert refusal("WEBSOCKET", "$context.path $context.requestId $context.httpMethod") == (
        "The following context variables are not supported: [$context.httpMethod, $context.path]"
    )
    # Documented for HTTP APIs, refused by them all the same (sst/sst#2587).
    assert refusal("HTTP", "$context.identity.cognitoIdentityId") == (
        "The following context variables are not supported: [$context.identity.cognitoIdentityId]"
    )
    rules.check_access_log_format("WEBSOCKET", "$context.identity.cognitoIdentityId")
    # Families: $context.authorizer.<property>, $context.authorizer.claims.<property>, ...
    rules.check_access_log_format(
        "HTTP",
        "$context.authorizer.claims.sub $context.authorizer.tenant "
        "$context.identity.clientCert.validity.notAfter",
    )
    rules.check_access_log_format("WEBSOCKET", "$context.authorizer.tenant")
    # A family's bare prefix is no variable (serverless/serverless#7016).
    assert refusal("WEBSOCKET", "$context.error $context.authorizer") == (
        "The following context variables are not supported: [$context.authorizer, $context.error]"
    )
    assert "identity.clientCert" in refusal("WEBSOCKET", "$context.identity.clientCert.subjectDN")
    rules.check_access_log_format("REST", "$context.anything")  # not modelled: not checked


def test_the_lists_hold_the_protocol_only_variables() -> None:
    assert "$context.connectionId" in rules.WEBSOCKET_API_ACCESS_LOG_VARIABLES
    assert "$context.connectionId" not in rules.HTTP_API_ACCESS_LOG_VARIABLES
    assert "$context.eventType" not in rules.HTTP_API_ACCESS_LOG_VARIABLES
    assert "$context.httpMethod" not in rules.WEBSOCKET_API_ACCESS_LOG_VARIABLES
    assert rules.ACCESS_LOG_VARIABLES == {
        "HTTP": rules.HTTP_API_ACCESS_LOG_VARIABLES,
        "WEBSOCKET": rules.WEBSOCKET_API_ACCESS_LOG_VARIABLES,
    }


def test_the_templates_formats_pass_for_their_protocol() -> None:
    http_format = json.dumps(apigatewayv2.HTTP_ACCESS_LOG_FIELDS)
    websocket_format = json.dumps(apigatewayv2.WEBSOCKET_ACCESS_LOG_FIELDS)
    rules.check_access_log_format("HTTP", http_format)
    rules.check_access_log_format("WEBSOCKET", websocket_format)
    refusal("WEBSOCKET", http_format)
    refusal("HTTP", websocket_format)


def http_stage(log_format: str, log_group: str) -> dict[str, Any]:
    return {
        "Resources": {
            "Api": {
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {"Name": "h", "ProtocolType": "HTTP"},
            },
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": log_group}},
            "Stage": {
                "Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {
                    "ApiId": {"Ref": "Api"},
                    "StageName": "$default",
                    "AccessLogSettings": {
                        "DestinationArn": {"Fn::GetAtt": ["Logs", "Arn"]},
                        "Format": log_format,
                    },
                },
            },
        }
    }


def test_the_old_shared_format_fails_the_http_stack(aws: Any) -> None:
    cfn = aws("cloudformation")
    cfn.create_stack(
        StackName="old-http",
        TemplateBody=json.dumps(http_stage(OLD_SHARED_FORMAT, "/aws/old-http")),
    )
    assert cfn.describe_stacks(StackName="old-http")["Stacks"][0]["StackStatus"] == (
        "ROLLBACK_COMPLETE"
    )
    events = cfn.describe_stack_events(StackName="old-http")["StackEvents"]
    (failed,) = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed["LogicalResourceId"] == "Stage"
    assert handler_message(failed["ResourceStatusReason"]) == (
        "The following context variables are not supported: [$context.connectionId]",
        "ApiGatewayV2",
        400,
    )
    cfn.delete_stack(StackName="old-http")


def test_the_http_format_creates_the_http_stage(stacks: Any, aws: Any) -> None:
    name = stacks.create(http_stage(json.dumps(apigatewayv2.HTTP_ACCESS_LOG_FIELDS), "/aws/http"))
    api_id = stacks.physical_ids(name)["Api"]
    (stage,) = aws("apigatewayv2").get_stages(ApiId=api_id)["Items"]
    assert "$context.httpMethod" in stage["AccessLogSettings"]["Format"]


def test_create_stage_and_update_stage_refuse_it_too(aws: Any) -> None:
    gateway = aws("apigatewayv2")
    api = gateway.create_api(Name="direct", ProtocolType="HTTP")
    destination = "arn:aws:logs:us-east-1:123456789012:log-group:x"
    old = {"DestinationArn": destination, "Format": OLD_SHARED_FORMAT}
    with pytest.raises(gateway.exceptions.BadRequestException) as refused:
        gateway.create_stage(ApiId=api["ApiId"], StageName="$default", AccessLogSettings=old)
    message = "The following context variables are not supported: [$context.connectionId]"
    assert refused.value.response["Error"]["Message"] == message

    new = {"DestinationArn": destination, "Format": json.dumps(apigatewayv2.HTTP_ACCESS_LOG_FIELDS)}
    gateway.create_stage(ApiId=api["ApiId"], StageName="$default", AccessLogSettings=new)
    with pytest.raises(gateway.exceptions.BadRequestException) as refused:
        gateway.update_stage(ApiId=api["ApiId"], StageName="$default", AccessLogSettings=old)
    assert refused.value.response["Error"]["Message"] == message
    stage = gateway.get_stage(ApiId=api["ApiId"], StageName="$default")
    assert stage["AccessLogSettings"] == new
    gateway.delete_api(ApiId=api["ApiId"])
