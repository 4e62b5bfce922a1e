"""API Gateway v1: the account-level settings shared by REST, HTTP and WebSocket APIs, and the
public REST API that environments with a custom domain serve (its forwarding integration
streams the response: REST APIs are the only API Gateway APIs that can).

Sources:
- "Stream the integration response for your proxy integrations in API Gateway"
  https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html
- "Set up a Lambda proxy integration with payload response streaming in API Gateway"
  https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode-lambda.html
  (the ``2021-11-15/.../response-streaming-invocations`` URI; lambda:InvokeFunction suffices)
"""

from __future__ import annotations

import hashlib
import json

from troposphere import AWSHelperFn, GetAtt, Ref, Sub
from troposphere.apigateway import (
    AccessLogSetting,
    Account,
    Deployment,
    EndpointConfiguration,
    Integration,
    Method,
    MethodSetting,
    Resource,
    RestApi,
    Stage,
)
from troposphere.iam import Role
from troposphere.logs import LogGroup
from tunnel_shared import limits

from tunnel_infra.blueprint import Blueprint
from tunnel_infra.settings import StageLimit
from tunnel_infra.suppressions import skip_checkov

# A streamed integration may take up to 900,000 ms (15 minutes, the stream's own limit).
REST_STREAM_TIMEOUT_MS = limits.STREAM_MAX_SECONDS * 1000
# REST API access logs, one JSON line per request, without bodies, tokens or query strings
# ($context.path has no query). Written through the account's CloudWatch role, as the
# WebSocket stage's: no resource-policy entry, so no /aws/vendedlogs/ prefix needed.
REST_ACCESS_LOG_FIELDS = {
    "domainName": "$context.domainName",
    "errorMessage": "$context.error.message",
    "integrationLatency": "$context.integrationLatency",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "resourcePath": "$context.resourcePath",
    "responseLatency": "$context.responseLatency",
    "sourceIp": "$context.identity.sourceIp",
    "status": "$context.status",
}
# The greedy resource: every path below the root. The root itself needs its own method.
PROXY_PATH_PART = "{proxy+}"


def account_logging(stack: Blueprint, logical_id: str, role: Role) -> Account:
    """Set the account and region's CloudWatch role. A WebSocket stage with access logs cannot
    be created until it is set (``CloudWatch Logs role ARN must be set in account settings``)."""
    return stack.add(
        Account(
            logical_id,
            CloudWatchRoleArn=GetAtt(role, "Arn"),
            # Deleting the stack leaves the setting as it is (so does AWS::ApiGateway::Account).
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )


def rest_access_log_name(stack: Blueprint) -> str:
    """The public REST stage's access-log group."""
    return f"/aws/apigateway/{stack.name('rest-access')}"


def rest_api_name(stack: Blueprint) -> str:
    """The public REST API's name: its CloudWatch metrics are keyed by it (``ApiName``)."""
    return stack.name("rest")


def rest_api(stack: Blueprint, logical_id: str) -> RestApi:
    """The public REST API: REGIONAL (the custom domain is regional; a streamed response idles
    up to 5 minutes there, 30 s on an edge-optimized one), reached only through the custom
    domain (its execute-api endpoint disabled, as the HTTP API's is under a domain)."""
    return stack.add(
        RestApi(
            logical_id,
            Name=rest_api_name(stack),
            Description="Public requests to <subdomain>.<domain> that cross the tunnel, streamed",
            EndpointConfiguration=EndpointConfiguration(Types=["REGIONAL"]),
            DisableExecuteApiEndpoint=True,
            # Every body is binary ("*/*"), so a proxy event carries it base64, byte for byte:
            # without it a REST API passes bodies as UTF-8 text and mangles binary ones. "/" is
            # written "~1" here (AWS::ApiGateway::RestApi, BinaryMediaTypes; aws/aws-cdk#1157).
            BinaryMediaTypes=[BINARY_EVERYTHING],
        )
    )


BINARY_EVERYTHING = "*~1*"


def streaming_invoke_uri(function_arn: AWSHelperFn) -> Sub:
    """Lambda's InvokeWithResponseStream, as an AWS_PROXY integration names it."""
    return Sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2021-11-15/functions/"
        "${FunctionArn}/response-streaming-invocations",
        FunctionArn=function_arn,
    )


def rest_source_arn(api: RestApi, stage_name: str) -> Sub:
    """Every method of every resource of one stage of one REST API (``*/*`` also matches the
    root, ``<api>/<stage>/GET/``): what may invoke its function."""
    return Sub(
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ApiId}/"
        f"{stage_name}/*/*",
        ApiId=Ref(api),
    )


def proxy_resource(stack: Blueprint, logical_id: str, api: RestApi) -> Resource:
    return stack.add(
        Resource(
            logical_id,
            RestApiId=Ref(api),
            ParentId=GetAtt(api, "RootResourceId"),
            PathPart=PROXY_PATH_PART,
        )
    )


def streaming_proxy_method(
    stack: Blueprint,
    logical_id: str,
    api: RestApi,
    resource_id: AWSHelperFn,
    function_arn: AWSHelperFn,
) -> Method:
    """ANY on one resource, open (the tunnel is public: the agent's app decides), to the
    function through a Lambda proxy integration that streams its response."""
    method = Method(
        logical_id,
        RestApiId=Ref(api),
        ResourceId=resource_id,
        HttpMethod="ANY",
        AuthorizationType="NONE",
        Integration=Integration(
            Type="AWS_PROXY",
            # Lambda is always invoked with POST, whatever the caller's method.
            IntegrationHttpMethod="POST",
            Uri=streaming_invoke_uri(function_arn),
            ResponseTransferMode="STREAM",
            TimeoutInMillis=REST_STREAM_TIMEOUT_MS,
        ),
    )
    skip_checkov(
        method, "CKV_AWS_59", "A public tunnel: the app behind it authenticates its callers"
    )
    return stack.add(method)


def deployment(
    stack: Blueprint, prefix: str, api: RestApi, served: list[Method | Resource]
) -> Deployment:
    """A deployment whose logical id changes whenever a method or resource it serves does (a
    REST deployment is a snapshot, as a WebSocket one: see apigatewayv2.deployment)."""
    snapshot = {r.title: r.to_dict() for r in served}
    fingerprint = hashlib.sha256(
        json.dumps(snapshot, sort_keys=True, default=str).encode()
    ).hexdigest()[:10]
    return stack.add(
        Deployment(
            f"{prefix}{fingerprint}",
            RestApiId=Ref(api),
            Description=f"Resources and methods {fingerprint}",
            DependsOn=sorted(snapshot),
        )
    )


def stage(
    stack: Blueprint,
    logical_id: str,
    api: RestApi,
    deployment: Deployment,
    access_log: LogGroup,
    throttle: StageLimit,
) -> Stage:
    """The environment's stage: JSON access logs, every method throttled as the HTTP stage is,
    traced where the environment traces. A custom domain maps it, so its name is not in the
    public URLs."""
    resource = Stage(
        logical_id,
        RestApiId=Ref(api),
        StageName=stack.environment,
        Description=f"The {stack.environment} stage",
        DeploymentId=Ref(deployment),
        AccessLogSetting=AccessLogSetting(
            DestinationArn=GetAtt(access_log, "Arn"),
            Format=json.dumps(REST_ACCESS_LOG_FIELDS, sort_keys=True),
        ),
        MethodSettings=[
            MethodSetting(
                HttpMethod="*",
                ResourcePath="/*",
                ThrottlingBurstLimit=throttle.burst,
                ThrottlingRateLimit=throttle.rate,
            )
        ],
        TracingEnabled=stack.settings.tracing,
    )
    skip_checkov(
        resource, "CKV_AWS_120", "Streamed responses cannot be cached (response-transfer-mode)"
    )
    return stack.add(resource)
