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
    IntegrationResponse,
    Route,
    RouteSettings,
    Stage,
)
from troposphere.logs import LogGroup
from tunnel_shared import limits
from tunnel_shared.names import EXECUTE_API_HOST

from tunnel_infra.blueprint import Blueprint
from tunnel_infra.settings import Settings, StageLimit

# The route timeouts, from the platform's limits (the HTTP API's own hard limit is 30 s).
HTTP_INTEGRATION_TIMEOUT_MS = limits.HTTP_INTEGRATION_TIMEOUT_SECONDS * 1000
WEBSOCKET_INTEGRATION_TIMEOUT_MS = limits.WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS * 1000
# HTTP API access logging adds each log group outside this prefix to the account's one CloudWatch
# Logs resource policy (5,120 characters at most): on a busy account the stage then fails with
# "Policy document length breaking Cloudwatch Logs Constraints". Under it, no entry is added.
VENDED_LOGS_PREFIX = "/aws/vendedlogs/"
# The public HTTP API is served from its $default stage: no stage prefix in its URLs or in the
# rawPath the function sees (a named stage adds "/<stage>" to both).
HTTP_STAGE = "$default"
# One JSON line per request or message, without bodies, tokens or query strings. API Gateway
# validates the variables per protocol (aws_fidelity.rules has both lists): connectionId and
# eventType exist for WebSocket APIs only; $context.path is the path without the query string.
WEBSOCKET_ACCESS_LOG_FIELDS = {
    "connectionId": "$context.connectionId",
    "errorMessage": "$context.error.message",
    "eventType": "$context.eventType",
    "integrationLatency": "$context.integrationLatency",
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "sourceIp": "$context.identity.sourceIp",
    "status": "$context.status",
}
HTTP_ACCESS_LOG_FIELDS = {
    "domainName": "$context.domainName",
    "errorMessage": "$context.error.message",
    "integrationError": "$context.integrationErrorMessage",
    "integrationLatency": "$context.integrationLatency",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "responseLatency": "$context.responseLatency",
    "routeKey": "$context.routeKey",
    "sourceIp": "$context.identity.sourceIp",
    "status": "$context.status",
}


def http_access_log_name(stack: Blueprint) -> str:
    """The public HTTP stage's access-log group: its stage, and the metric filter, name it."""
    return f"{VENDED_LOGS_PREFIX}apigateway/{stack.name('http-access')}"


# Public requests answered 429, counted from the HTTP access log: HTTP APIs publish no metric of
# their own for it (only 4xx, 5xx, Count, latencies and DataProcessed).
THROTTLED_PATTERN = '{ $.status = "429" }'


def throttled_metric(stack: Blueprint) -> str:
    """The metric of the public stage's 429s, one per environment (a metric filter's dimensions
    can only be log fields, so the environment is in the name)."""
    return f"PublicThrottled-{stack.environment}"


def websocket_access_log_name(stack: Blueprint) -> str:
    """The WebSocket stage's access-log group (written through the account's CloudWatch role,
    not the resource policy: no prefix needed)."""
    return f"/aws/apigateway/{stack.name('ws-access')}"


def answers_access_log_name(stack: Blueprint) -> str:
    """The answers API's stage access-log group (as the agents' WebSocket stage's)."""
    return f"/aws/apigateway/{stack.name('answers-access')}"


def _execute_api_host(api_id_variable: str) -> str:
    """tunnel_shared.names' host, as Sub text in the stack's region and partition."""
    return EXECUTE_API_HOST.format(
        api_id=f"${{{api_id_variable}}}", region="${AWS::Region}", url_suffix="${AWS::URLSuffix}"
    )


def execute_api_host(api_id: AWSHelperFn | str) -> Sub:
    """An API's own endpoint host: ``<api-id>.execute-api.<region>.amazonaws.com``."""
    return Sub(_execute_api_host("ApiId"), ApiId=api_id)


def public_endpoint(settings: Settings, http_api: Api) -> AWSHelperFn | str:
    """Where the public reaches the HTTP API: under a custom domain, its hosts (the API's
    ``ApiEndpoint`` still names the execute-api host then, which answers 404 once
    ``DisableExecuteApiEndpoint`` is set); otherwise that endpoint, whose $default stage is
    served at the endpoint itself (no stage in the URL)."""
    if settings.custom_domain.enabled:
        return f"https://*.{settings.custom_domain.domain_name}"
    return GetAtt(http_api, "ApiEndpoint")


def public_url_format(settings: Settings, http_api_id: AWSHelperFn | None) -> AWSHelperFn | str:
    """Where the public reaches ``{subdomain}``: by Host under the custom domain; without one,
    first in the path of the HTTP API's own endpoint (execute-api hosts take no wildcard)."""
    if settings.custom_domain.enabled:
        return f"https://{{subdomain}}.{settings.custom_domain.domain_name}"
    if http_api_id is None:
        raise ValueError("without a custom domain the URL names the HTTP API: give its id")
    return Sub(f"https://{_execute_api_host('HttpApiId')}/{{subdomain}}", HttpApiId=http_api_id)


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


def answers_api(stack: Blueprint, logical_id: str) -> Api:
    """The internal WebSocket API answers cross: forwarding connects (IAM-signed), learns its
    connection id from ``whoami``, and response posts each answer to it."""
    return stack.add(
        Api(
            logical_id,
            Name=stack.name("answers"),
            Description="Forwarding's own sockets (IAM); response posts the agents' answers here",
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
            # Without a custom domain, tunnels are paths on this endpoint (PublicUrlFormat);
            # with one, the endpoint would be a second way in that skips the domain: closed.
            DisableExecuteApiEndpoint=stack.settings.custom_domain.enabled,
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


# A MOCK integration answers from its request template: {"statusCode": 200} accepts a $connect
# without invoking anything. The selection expression \$default is the static key "$default"
# (unescaped, $default would be read as an expression). Non-proxy integrations need an
# integration response ("Set up a WebSocket API integration response": at least one, $default
# the catch-all); $connect sends nothing back, so no route response.
MOCK_ACCEPT_TEMPLATE = json.dumps({"statusCode": 200})
STATIC_DEFAULT_TEMPLATE = "\\$default"


def mock_integration(
    stack: Blueprint, logical_id: str, api_id: AWSHelperFn
) -> tuple[Integration, IntegrationResponse]:
    """A MOCK integration that accepts (200), and its $default integration response."""
    integration = stack.add(
        Integration(
            logical_id,
            ApiId=api_id,
            IntegrationType="MOCK",
            RequestTemplates={"$default": MOCK_ACCEPT_TEMPLATE},
            TemplateSelectionExpression=STATIC_DEFAULT_TEMPLATE,
        )
    )
    response = stack.add(
        IntegrationResponse(
            f"{logical_id}Response",
            ApiId=api_id,
            IntegrationId=Ref(integration),
            IntegrationResponseKey="$default",
        )
    )
    return integration, response


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
    iam: bool = False,
) -> Route:
    """A route to ``integration``: open, behind ``authorizer``, or (``iam``) only for SigV4
    callers whose policy allows ``execute-api:Invoke`` on it (a route has one or the other)."""
    resource = Route(
        logical_id,
        ApiId=api_id,
        RouteKey=key,
        Target=Sub(f"integrations/${{{integration.title}}}"),
        AuthorizationType="AWS_IAM" if iam else "NONE",
    )
    if authorizer is not None and iam:
        raise ValueError(f"route {key}: a custom authorizer or IAM, not both")
    if authorizer is not None:
        resource.AuthorizationType = "CUSTOM"
        resource.AuthorizerId = Ref(authorizer)
    return stack.add(resource)


def deployment(
    stack: Blueprint,
    prefix: str,
    api_id: AWSHelperFn,
    routes: list[Route],
    served: list[Integration | IntegrationResponse | Authorizer],
) -> Deployment:
    """A WebSocket deployment whose logical id changes whenever anything it serves does.

    A deployment is a snapshot: the stage serves the routes, integrations and authorizers as
    they were when it was made. Routes name the others by logical id only, so their
    properties (an identity source, a timeout, a function) are hashed too.
    """
    snapshot = {r.title: r.to_dict() for r in [*routes, *served]}
    fingerprint = hashlib.sha256(
        json.dumps(snapshot, sort_keys=True, default=str).encode()
    ).hexdigest()[:10]
    resource = Deployment(
        f"{prefix}{fingerprint}",
        ApiId=api_id,
        Description=f"Routes, integrations and authorizer {fingerprint}",
        DependsOn=sorted(snapshot),
    )
    return stack.add(resource)


def stage(
    stack: Blueprint,
    logical_id: str,
    api_id: AWSHelperFn,
    name: str,
    access_log: LogGroup,
    access_log_fields: dict[str, str],
    throttle: StageLimit,
    deployment: Deployment | None = None,
    route_throttles: dict[str, StageLimit] | None = None,
) -> Stage:
    """A throttled stage with JSON access logs in its own log group. ``route_throttles``: the
    routes (by key) with limits of their own; a stage naming a route key its API lacks fails
    with 404 NotFoundException "Unable to find Route by key ... within the provided
    RouteSettings" (terraform-aws-modules/terraform-aws-apigateway-v2#80), so the stage comes
    after its routes (a WebSocket stage through its deployment)."""
    resource = Stage(
        logical_id,
        ApiId=api_id,
        StageName=name,
        Description=f"The {stack.environment} stage",
        AccessLogSettings=AccessLogSettings(
            DestinationArn=GetAtt(access_log, "Arn"),
            Format=json.dumps(access_log_fields, sort_keys=True),
        ),
        DefaultRouteSettings=_throttled(throttle),
    )
    if route_throttles:
        # A route's settings replace the defaults (they do not merge): throttling is all we set.
        resource.RouteSettings = {
            key: _throttled(limit).to_dict() for key, limit in sorted(route_throttles.items())
        }
    if deployment is None:
        resource.AutoDeploy = True
    else:
        resource.DeploymentId = Ref(deployment)
    return stack.add(resource)


def _throttled(limit: StageLimit) -> RouteSettings:
    return RouteSettings(ThrottlingBurstLimit=limit.burst, ThrottlingRateLimit=limit.rate)


def wildcard_domain(
    stack: Blueprint, logical_id: str, domain_name: str, certificate_arn: AWSHelperFn | str
) -> DomainName:
    """``*.<domain_name>``, REGIONAL: its certificate must be ISSUED and in the stack's region."""
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
