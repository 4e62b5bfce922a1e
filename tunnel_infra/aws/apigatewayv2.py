"""API Gateway v2: the agents' WebSocket API, the public HTTP API, and their wiring to Lambda."""

from __future__ import annotations

import hashlib
import json

from troposphere import AWSHelperFn, GetAtt, Ref, Sub
from troposphere.apigatewayv2 import (
    AccessLogSettings,
    Api,
    ApiMapping,
    Authorizer,
    Deployment,
    DomainName,
    DomainNameConfiguration,
    Integration,
    Route,
    RouteSettings,
    Stage,
)
from troposphere.logs import LogGroup

from tunnel_infra.blueprint import Blueprint

# The HTTP API's own hard limit is 30 s; answer just before it.
HTTP_INTEGRATION_TIMEOUT_MS = 29_000
# One JSON line per request, without bodies, tokens or query strings.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "connectionId": "$context.connectionId",
    "sourceIp": "$context.identity.sourceIp",
    "integrationLatency": "$context.integrationLatency",
    "errorMessage": "$context.error.message",
}


def websocket_api(stack: Blueprint, logical_id: str) -> Api:
    return stack.add(
        Api(
            logical_id,
            Name=stack.name("ws"),
            Description="Agents connect here; messages route on their 'action' field",
            ProtocolType="WEBSOCKET",
            RouteSelectionExpression="$request.body.action",
        )
    )


def http_api(stack: Blueprint, logical_id: str) -> Api:
    return stack.add(
        Api(
            logical_id,
            Name=stack.name("http"),
            Description="Public requests to <subdomain>.<domain> that cross the tunnel",
            ProtocolType="HTTP",
            # Subdomains need the custom domain; the default endpoint stays up for checks.
            DisableExecuteApiEndpoint=False,
        )
    )


def invoke_uri(function_arn: AWSHelperFn) -> Sub:
    return Sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
        "${FunctionArn}/invocations",
        FunctionArn=function_arn,
    )


def route_source_arn(api_id: AWSHelperFn, stage_name: str, route_key: str) -> Sub:
    """The execute-api ARN of one route on one stage: what may invoke its function."""
    return Sub(
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ApiId}/"
        f"{stage_name}/{route_key}",
        ApiId=api_id,
    )


def authorizer_source_arn(api_id: AWSHelperFn, authorizer: Authorizer) -> Sub:
    return Sub(
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ApiId}/"
        "authorizers/${AuthorizerId}",
        ApiId=api_id,
        AuthorizerId=Ref(authorizer),
    )


def lambda_integration(
    stack: Blueprint,
    logical_id: str,
    api_id: AWSHelperFn,
    function_arn: AWSHelperFn,
    payload_format: str | None = None,
    timeout_ms: int | None = None,
) -> Integration:
    integration = Integration(
        logical_id,
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=invoke_uri(function_arn),
    )
    if payload_format is not None:
        integration.PayloadFormatVersion = payload_format
    if timeout_ms is not None:
        integration.TimeoutInMillis = timeout_ms
    return stack.add(integration)


def request_authorizer(
    stack: Blueprint, logical_id: str, api_id: AWSHelperFn, function_arn: AWSHelperFn, source: str
) -> Authorizer:
    return stack.add(
        Authorizer(
            logical_id,
            ApiId=api_id,
            Name=stack.name("agent-token"),
            AuthorizerType="REQUEST",
            AuthorizerUri=invoke_uri(function_arn),
            IdentitySource=[source],
        )
    )


def route(
    stack: Blueprint,
    logical_id: str,
    api_id: AWSHelperFn,
    key: str,
    integration: Integration,
    authorizer: Authorizer | None = None,
) -> Route:
    resource = Route(
        logical_id,
        ApiId=api_id,
        RouteKey=key,
        Target=Sub(f"integrations/${{{integration.title}}}"),
        AuthorizationType="NONE",
    )
    if authorizer is not None:
        resource.AuthorizationType = "CUSTOM"
        resource.AuthorizerId = Ref(authorizer)
    return stack.add(resource)


def deployment(
    stack: Blueprint, prefix: str, api_id: AWSHelperFn, routes: list[Route]
) -> Deployment:
    """A WebSocket deployment whose logical id changes whenever a route does, so it redeploys."""
    fingerprint = hashlib.sha256(
        json.dumps([r.to_dict() for r in routes], sort_keys=True, default=str).encode()
    ).hexdigest()[:10]
    resource = Deployment(
        f"{prefix}{fingerprint}",
        ApiId=api_id,
        Description=f"Routes {fingerprint}",
        DependsOn=[r.title for r in routes],
    )
    return stack.add(resource)


def stage(
    stack: Blueprint,
    logical_id: str,
    api_id: AWSHelperFn,
    access_log: LogGroup,
    deployment: Deployment | None = None,
) -> Stage:
    """The environment's stage, throttled, with JSON access logs in its own log group."""
    throttling = stack.settings.throttling
    resource = Stage(
        logical_id,
        ApiId=api_id,
        StageName=stack.environment,
        Description=f"The {stack.environment} stage",
        AccessLogSettings=AccessLogSettings(
            DestinationArn=GetAtt(access_log, "Arn"),
            Format=json.dumps(ACCESS_LOG_FIELDS, sort_keys=True),
        ),
        DefaultRouteSettings=RouteSettings(
            ThrottlingBurstLimit=throttling.burst_limit,
            ThrottlingRateLimit=throttling.rate_limit,
        ),
    )
    if deployment is None:
        resource.AutoDeploy = True
    else:
        resource.DeploymentId = Ref(deployment)
    return stack.add(resource)


def wildcard_domain(
    stack: Blueprint, logical_id: str, domain_name: str, certificate_arn: str
) -> DomainName:
    return stack.add(
        DomainName(
            logical_id,
            DomainName=f"*.{domain_name}",
            DomainNameConfigurations=[
                DomainNameConfiguration(
                    CertificateArn=certificate_arn,
                    EndpointType="REGIONAL",
                    SecurityPolicy="TLS_1_2",
                )
            ],
        )
    )


def api_mapping(
    stack: Blueprint, logical_id: str, domain: DomainName, api_id: AWSHelperFn, stage_name: str
) -> ApiMapping:
    return stack.add(ApiMapping(logical_id, DomainName=Ref(domain), ApiId=api_id, Stage=stage_name))
