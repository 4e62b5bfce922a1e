"""AWS::ApiGatewayV2::* stacks really create, update and delete API Gateway objects."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"


def _lambda_uri(function: str) -> dict[str, str]:
    return {
        "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
        f"arn:aws:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{function}/invocations"
    }


def _integration(function: str) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": {"Ref": "Api"},
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": _lambda_uri(function),
            "TimeoutInMillis": 10000,
        },
    }


def _route(key: str, integration: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {
            "ApiId": {"Ref": "Api"},
            "RouteKey": key,
            "Target": {"Fn::Join": ["/", ["integrations", {"Ref": integration}]]},
            **extra,
        },
    }


WEBSOCKET_TEMPLATE: dict[str, Any] = {
    "Parameters": {"BurstLimit": {"Type": "Number", "Default": "50"}},
    "Resources": {
        "Api": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": "tunnel-ws",
                "ProtocolType": "WEBSOCKET",
                "RouteSelectionExpression": "$request.body.action",
                "Tags": {"project": "tunnel"},
            },
        },
        "Authorizer": {
            "Type": "AWS::ApiGatewayV2::Authorizer",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "AuthorizerType": "REQUEST",
                "AuthorizerUri": _lambda_uri("authorizer"),
                "IdentitySource": ["route.request.querystring.token"],
                "Name": "token-authorizer",
            },
        },
        "ConnectIntegration": _integration("connect"),
        "DisconnectIntegration": _integration("disconnect"),
        "DefaultIntegration": _integration("default"),
        "SpareIntegration": _integration("spare"),
        "ConnectRoute": _route(
            "$connect",
            "ConnectIntegration",
            AuthorizationType="CUSTOM",
            AuthorizerId={"Ref": "Authorizer"},
        ),
        "DisconnectRoute": _route("$disconnect", "DisconnectIntegration"),
        "DefaultRoute": _route("$default", "DefaultIntegration"),
        "AccessLogs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": "/tunnel/ws-access", "RetentionInDays": 7},
        },
        "Deployment": {
            "Type": "AWS::ApiGatewayV2::Deployment",
            "DependsOn": ["ConnectRoute", "DisconnectRoute", "DefaultRoute"],
            "Properties": {"ApiId": {"Ref": "Api"}},
        },
        "Stage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "StageName": "live",
                "DeploymentId": {"Ref": "Deployment"},
                "AccessLogSettings": {
                    "DestinationArn": {"Fn::GetAtt": ["AccessLogs", "Arn"]},
                    "Format": "$context.requestId $context.routeKey $context.status",
                },
                "DefaultRouteSettings": {
                    "ThrottlingBurstLimit": {"Ref": "BurstLimit"},
                    "ThrottlingRateLimit": 20,
                    "DetailedMetricsEnabled": True,
                },
                "Tags": {"project": "tunnel"},
            },
        },
    },
    "Outputs": {
        "ApiId": {"Value": {"Ref": "Api"}},
        "ApiEndpoint": {"Value": {"Fn::GetAtt": ["Api", "ApiEndpoint"]}},
        "StageUrl": {"Value": {"Fn::Sub": "${Api.ApiEndpoint}/${Stage}"}},
        "DeploymentId": {"Value": {"Ref": "Deployment"}},
        "ConnectRouteId": {"Value": {"Ref": "ConnectRoute"}},
    },
}


@pytest.fixture(scope="module", autouse=True)
def cloudwatch_role(aws: Any) -> None:
    """WebSocket stages that log need the account's CloudWatch role (aws_fidelity.rules)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = aws("iam").create_role(
        RoleName="apigw-cloudwatch", AssumeRolePolicyDocument=json.dumps(trust)
    )
    aws("apigateway").update_account(
        patchOperations=[
            {"op": "replace", "path": "/cloudwatchRoleArn", "value": role["Role"]["Arn"]}
        ]
    )


def test_websocket_api_stack_creates_real_objects(stacks: Any, aws: Any) -> None:
    name = stacks.create(WEBSOCKET_TEMPLATE)
    apigw = aws("apigatewayv2")
    out = stacks.outputs(name)
    api_id = out["ApiId"]

    assert out["ApiEndpoint"] == f"wss://{api_id}.execute-api.{REGION}.amazonaws.com"
    assert out["StageUrl"] == f"wss://{api_id}.execute-api.{REGION}.amazonaws.com/live"
    api = apigw.get_api(ApiId=api_id)
    assert (api["Name"], api["ProtocolType"]) == ("tunnel-ws", "WEBSOCKET")
    assert api["RouteSelectionExpression"] == "$request.body.action"
    assert api["ApiEndpoint"] == out["ApiEndpoint"]
    assert api["Tags"] == {"project": "tunnel"}

    integrations = {i["IntegrationId"]: i for i in apigw.get_integrations(ApiId=api_id)["Items"]}
    assert len(integrations) == 4
    uris = {i["IntegrationUri"].split(":function:")[1] for i in integrations.values()}
    assert uris == {
        "connect/invocations",
        "disconnect/invocations",
        "default/invocations",
        "spare/invocations",
    }
    assert {i["IntegrationType"] for i in integrations.values()} == {"AWS_PROXY"}
    assert {i["TimeoutInMillis"] for i in integrations.values()} == {10000}

    (authorizer,) = apigw.get_authorizers(ApiId=api_id)["Items"]
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    assert authorizer["Name"] == "token-authorizer"
    assert authorizer["AuthorizerUri"].endswith(":function:authorizer/invocations")

    routes = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id)["Items"]}
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert routes["$connect"]["AuthorizerId"] == authorizer["AuthorizerId"]
    assert routes["$connect"]["RouteId"] == out["ConnectRouteId"]
    assert routes["$disconnect"]["AuthorizationType"] == "NONE"
    for key, function in [
        ("$connect", "connect"),
        ("$disconnect", "disconnect"),
        ("$default", "default"),
    ]:
        target_id = routes[key]["Target"].removeprefix("integrations/")
        assert integrations[target_id]["IntegrationUri"].endswith(
            f":function:{function}/invocations"
        )

    (stage,) = apigw.get_stages(ApiId=api_id)["Items"]
    log_group = aws("logs").describe_log_groups(logGroupNamePrefix="/tunnel/ws-access")
    assert stage["StageName"] == "live"
    assert stage["DeploymentId"] == out["DeploymentId"]
    # moto's LogGroup GetAtt Arn lacks the ":*" that DescribeLogGroups (and real
    # CloudFormation) put at the end.
    log_group_arn = log_group["logGroups"][0]["arn"].removesuffix(":*")
    assert stage["AccessLogSettings"]["DestinationArn"] == log_group_arn
    assert stage["AccessLogSettings"]["Format"].startswith("$context.requestId")
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 50
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 20.0
    assert stage["DefaultRouteSettings"]["DetailedMetricsEnabled"] is True
    assert stage["Tags"] == {"project": "tunnel"}

    ids = stacks.physical_ids(name)
    assert ids["Api"] == api_id
    assert ids["Stage"] == "live"
    assert ids["Authorizer"] == authorizer["AuthorizerId"]


def test_update_changes_route_target_and_stage_throttling(stacks: Any, aws: Any) -> None:
    name = stacks.create(WEBSOCKET_TEMPLATE)
    apigw = aws("apigatewayv2")
    api_id = stacks.outputs(name)["ApiId"]
    before = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id)["Items"]}
    spare_id = stacks.physical_ids(name)["SpareIntegration"]

    changed = copy.deepcopy(WEBSOCKET_TEMPLATE)
    changed["Resources"]["DefaultRoute"] = _route("$default", "SpareIntegration")
    changed["Resources"]["Stage"]["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"] = 5
    del changed["Resources"]["ConnectRoute"]["Properties"]["AuthorizerId"]
    changed["Resources"]["ConnectRoute"]["Properties"]["AuthorizationType"] = "NONE"
    stacks.update(name, changed, {"BurstLimit": "7"})

    after = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id)["Items"]}
    assert after["$default"]["Target"] == f"integrations/{spare_id}"
    assert after["$default"]["RouteId"] == before["$default"]["RouteId"]  # updated in place
    assert after["$connect"]["AuthorizationType"] == "NONE"
    assert after["$connect"].get("AuthorizerId") is None
    assert after["$disconnect"] == before["$disconnect"]
    (stage,) = apigw.get_stages(ApiId=api_id)["Items"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 5.0
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 7
    assert stage["DeploymentId"] == stacks.outputs(name)["DeploymentId"]


def test_removing_a_route_from_the_template_deletes_it(stacks: Any, aws: Any) -> None:
    name = stacks.create(WEBSOCKET_TEMPLATE)
    api_id = stacks.outputs(name)["ApiId"]
    changed = copy.deepcopy(WEBSOCKET_TEMPLATE)
    del changed["Resources"]["DisconnectRoute"]
    changed["Resources"]["Deployment"]["DependsOn"].remove("DisconnectRoute")
    stacks.update(name, changed)
    keys = {r["RouteKey"] for r in aws("apigatewayv2").get_routes(ApiId=api_id)["Items"]}
    assert keys == {"$connect", "$default"}


def test_delete_stack_removes_the_api(stacks: Any, aws: Any) -> None:
    name = stacks.create(WEBSOCKET_TEMPLATE)
    apigw = aws("apigatewayv2")
    api_id = stacks.outputs(name)["ApiId"]
    stacks.delete(name)
    with pytest.raises(ClientError) as error:
        apigw.get_api(ApiId=api_id)
    assert error.value.response["Error"]["Code"] == "NotFoundException"
    assert api_id not in {a["ApiId"] for a in apigw.get_apis()["Items"]}


HTTP_TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Api": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {"Name": "tunnel-http", "ProtocolType": "HTTP"},
        },
        "Integration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": _lambda_uri("http"),
                "PayloadFormatVersion": "2.0",
            },
        },
        "DefaultRoute": _route("$default", "Integration"),
        "Stage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "$default", "AutoDeploy": True},
        },
    },
    "Outputs": {"ApiEndpoint": {"Value": {"Fn::GetAtt": ["Api", "ApiEndpoint"]}}},
}


def test_http_api_with_default_route_and_payload_v2(stacks: Any, aws: Any) -> None:
    name = stacks.create(HTTP_TEMPLATE)
    apigw = aws("apigatewayv2")
    api_id = stacks.physical_ids(name)["Api"]
    assert stacks.outputs(name)["ApiEndpoint"] == (
        f"https://{api_id}.execute-api.{REGION}.amazonaws.com"
    )
    assert apigw.get_api(ApiId=api_id)["ProtocolType"] == "HTTP"
    (integration,) = apigw.get_integrations(ApiId=api_id)["Items"]
    assert integration["PayloadFormatVersion"] == "2.0"
    (route,) = apigw.get_routes(ApiId=api_id)["Items"]
    assert route["RouteKey"] == "$default"
    assert route["Target"] == f"integrations/{integration['IntegrationId']}"
    (stage,) = apigw.get_stages(ApiId=api_id)["Items"]
    assert (stage["StageName"], stage["AutoDeploy"]) == ("$default", True)


def test_custom_domain_and_api_mapping(stacks: Any, aws: Any) -> None:
    # The domain takes only an ISSUED certificate of its region (aws_fidelity.rules): one the
    # stack requests and validates through a hosted zone, as the domain stack does.
    zone = aws("route53").create_hosted_zone(Name="example.com.", CallerReference="domain-test")
    template = copy.deepcopy(HTTP_TEMPLATE)
    template["Resources"]["Certificate"] = {
        "Type": "AWS::CertificateManager::Certificate",
        "Properties": {
            "DomainName": "tunnel.example.com",
            "ValidationMethod": "DNS",
            "DomainValidationOptions": [
                {
                    "DomainName": "tunnel.example.com",
                    "HostedZoneId": zone["HostedZone"]["Id"].rsplit("/", 1)[-1],
                }
            ],
        },
    }
    template["Resources"]["Domain"] = {
        "Type": "AWS::ApiGatewayV2::DomainName",
        "Properties": {
            "DomainName": "tunnel.example.com",
            "DomainNameConfigurations": [
                {
                    "CertificateArn": {"Ref": "Certificate"},
                    "EndpointType": "REGIONAL",
                    "SecurityPolicy": "TLS_1_2",
                }
            ],
        },
    }
    template["Resources"]["Mapping"] = {
        "Type": "AWS::ApiGatewayV2::ApiMapping",
        "DependsOn": "Stage",
        "Properties": {
            "ApiId": {"Ref": "Api"},
            "DomainName": {"Ref": "Domain"},
            "Stage": "$default",
        },
    }
    template["Outputs"].update(
        RegionalDomainName={"Value": {"Fn::GetAtt": ["Domain", "RegionalDomainName"]}},
        HostedZone={"Value": {"Fn::GetAtt": ["Domain", "RegionalHostedZoneId"]}},
        Domain={"Value": {"Ref": "Domain"}},
    )
    name = stacks.create(template)
    apigw = aws("apigatewayv2")
    out = stacks.outputs(name)
    assert out["Domain"] == "tunnel.example.com"
    assert out["RegionalDomainName"].startswith("d-")
    assert out["RegionalDomainName"].endswith(f".execute-api.{REGION}.amazonaws.com")
    assert out["HostedZone"] == "Z1UJRXOUMOOFQ8"
    (config,) = apigw.get_domain_name(DomainName="tunnel.example.com")["DomainNameConfigurations"]
    assert config["ApiGatewayDomainName"] == out["RegionalDomainName"]
    assert (config["CertificateArn"], config["SecurityPolicy"]) == (
        stacks.physical_ids(name)["Certificate"],
        "TLS_1_2",
    )
    (mapping,) = apigw.get_api_mappings(DomainName="tunnel.example.com")["Items"]
    assert mapping["ApiId"] == stacks.physical_ids(name)["Api"]
    assert mapping["Stage"] == "$default"

    stacks.delete(name)
    assert apigw.get_domain_names()["Items"] == []


MOCK_CONNECT_TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Api": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": "tunnel-answers",
                "ProtocolType": "WEBSOCKET",
                "RouteSelectionExpression": "$request.body.action",
            },
        },
        "Mock": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "IntegrationType": "MOCK",
                "RequestTemplates": {"$default": '{"statusCode": 200}'},
                "TemplateSelectionExpression": "\\$default",
            },
        },
        "MockResponse": {
            "Type": "AWS::ApiGatewayV2::IntegrationResponse",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "IntegrationId": {"Ref": "Mock"},
                "IntegrationResponseKey": "$default",
            },
        },
        "ConnectRoute": _route("$connect", "Mock", AuthorizationType="AWS_IAM"),
    },
    "Outputs": {"ApiId": {"Value": {"Ref": "Api"}}},
}


def test_iam_connect_route_with_a_mock_integration_and_its_response(stacks: Any, aws: Any) -> None:
    """The answers API's $connect: AWS_IAM, a MOCK integration answering 200 from its request
    template, and the $default integration response a non-proxy integration needs."""
    name = stacks.create(MOCK_CONNECT_TEMPLATE)
    apigw = aws("apigatewayv2")
    api_id = stacks.outputs(name)["ApiId"]
    (route,) = apigw.get_routes(ApiId=api_id)["Items"]
    assert (route["RouteKey"], route["AuthorizationType"]) == ("$connect", "AWS_IAM")
    (integration,) = apigw.get_integrations(ApiId=api_id)["Items"]
    assert integration["IntegrationType"] == "MOCK"
    assert integration["RequestTemplates"] == {"$default": '{"statusCode": 200}'}
    assert integration["TemplateSelectionExpression"] == "\\$default"
    (response,) = apigw.get_integration_responses(
        ApiId=api_id, IntegrationId=integration["IntegrationId"]
    )["Items"]
    assert response["IntegrationResponseKey"] == "$default"
    assert response["IntegrationResponseId"] == stacks.physical_ids(name)["MockResponse"]

    # An update of the integration keeps its response; deleting the stack removes both.
    changed = copy.deepcopy(MOCK_CONNECT_TEMPLATE)
    changed["Resources"]["Mock"]["Properties"]["Description"] = "accepts"
    stacks.update(name, changed)
    assert apigw.get_integration_responses(
        ApiId=api_id, IntegrationId=integration["IntegrationId"]
    )["Items"] == [response]
    stacks.delete(name)
    with pytest.raises(ClientError):
        apigw.get_api(ApiId=api_id)
