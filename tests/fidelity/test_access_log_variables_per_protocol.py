"""rules.check_access_log_format: the old shared format put $context.connectionId on the HTTP
stage, which API Gateway refuses."""

from __future__ import annotations

import json

import pytest

from aws_fidelity import rules
from tunnel_infra.aws import apigatewayv2

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


def http_stage(log_format: str) -> dict:
    return {
        "Api": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {"Name": "h", "ProtocolType": "HTTP"},
        },
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/h"}},
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


def test_the_old_shared_format_fails_the_http_stage(account):
    stack = account.stack("old-http", http_stage(OLD_SHARED_FORMAT))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert account.failure("old-http") == (
        "Stage",
        'Resource handler returned message: "The following context variables are not '
        'supported: [$context.connectionId]" (Service: BadRequestException, Status Code: 400)',
    )


def test_the_templates_formats_pass_for_their_protocol(account):
    http_format = json.dumps(apigatewayv2.HTTP_ACCESS_LOG_FIELDS)
    assert account.stack("new-http", http_stage(http_format))["StackStatus"] == "CREATE_COMPLETE"
    rules.check_access_log_format("WEBSOCKET", json.dumps(apigatewayv2.WEBSOCKET_ACCESS_LOG_FIELDS))
    with pytest.raises(rules.Refused, match=r"\$context.httpMethod, .*\$context.path"):
        rules.check_access_log_format("WEBSOCKET", http_format)


def test_the_create_stage_api_refuses_it_too(account):
    gateway = account.client("apigatewayv2")
    api = gateway.create_api(Name="direct", ProtocolType="HTTP")
    with pytest.raises(gateway.exceptions.BadRequestException, match="connectionId"):
        gateway.create_stage(
            ApiId=api["ApiId"],
            StageName="$default",
            AccessLogSettings={
                "DestinationArn": "arn:aws:logs:us-east-1:1:log-group:x",
                "Format": OLD_SHARED_FORMAT,
            },
        )
