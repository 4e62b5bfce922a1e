"""What was deployed: the two APIs' routes, integrations, authorizers and stages, and the
configuration and invoke permissions of every function they point at.

Everything is read back from the (emulated) AWS account, never from the templates, so a
miswired template breaks the local tunnel the way it would break on AWS. Broken references
(a route whose target names no integration, an integration whose function does not exist) are
kept as they are: they fail when a request uses them, not at start-up.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import names

# arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations, or
# a streamed REST integration's .../2021-11-15/functions/<ARN>/response-streaming-invocations
_LAMBDA_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(.+)/"
    r"(?:response-streaming-)?invocations$"
)


class DeploymentError(RuntimeError):
    """The environment is not deployed (or not reachable); the message says what to do."""


class NotDeployed(DeploymentError):
    """The environment's APIs stack does not exist (never launched, or deleted)."""


@dataclass(frozen=True)
class Route:
    key: str  # "$connect", "$default", "GET /items/{id}"
    target: str | None  # "integrations/<id>"
    authorization_type: str
    authorizer_id: str | None

    @property
    def integration_id(self) -> str | None:
        if self.target and self.target.startswith("integrations/"):
            return self.target.removeprefix("integrations/")
        return None


@dataclass(frozen=True)
class Integration:
    integration_id: str
    integration_type: str
    uri: str | None
    payload_format_version: str
    timeout_ms: int | None
    # A MOCK integration's request templates, by key, and how one is chosen.
    request_templates: dict[str, str] = field(default_factory=dict)
    template_selection_expression: str | None = None

    def mock_status(self) -> int | None:
        """The statusCode a MOCK integration answers with (its selected request template's),
        None if it names none."""
        key = (self.template_selection_expression or "$default").removeprefix("\\")
        template = self.request_templates.get(key) or self.request_templates.get("$default")
        try:
            status = json.loads(template or "").get("statusCode")
        except (ValueError, AttributeError):
            return None
        return status if isinstance(status, int) and not isinstance(status, bool) else None

    @property
    def function_arn(self) -> str | None:
        """The Lambda function of an AWS_PROXY integration, if its URI names one."""
        if self.integration_type != "AWS_PROXY" or not self.uri:
            return None
        match = _LAMBDA_URI.match(self.uri)
        return match.group(1) if match else None


@dataclass(frozen=True)
class Authorizer:
    authorizer_id: str
    authorizer_type: str
    uri: str | None
    identity_sources: tuple[str, ...]

    @property
    def function_arn(self) -> str | None:
        match = _LAMBDA_URI.match(self.uri or "")
        return match.group(1) if match else None


@dataclass(frozen=True)
class Api:
    api_id: str
    protocol_type: str
    route_selection_expression: str
    routes: dict[str, Route]
    integrations: dict[str, Integration]
    authorizers: dict[str, Authorizer]
    stages: dict[str, dict[str, str]]  # stage name -> stage variables
    # DisableExecuteApiEndpoint: reached only through its custom domains (HTTP APIs).
    disable_execute_api_endpoint: bool = False


@dataclass(frozen=True)
class RestStage:
    """The public REST API's stage (environments with a custom domain: the routes stack's
    ``RestApiId``), what its proxy integration invokes and what guards it."""

    api_id: str
    stage: str
    function_arn: str | None
    streamed: bool  # ResponseTransferMode STREAM
    domains: dict[str, str]  # custom domain names mapped to it -> the stage
    binary_everything: bool  # BinaryMediaTypes holds */*: every body crosses base64
    web_acl: dict[str, Any] | None = None  # GetWebACLForResource's WebACL, if one is attached

    def stage_arn(self, region: str) -> str:
        """The stage's ARN, as WAF associations name it."""
        return f"arn:aws:apigateway:{region}::/restapis/{self.api_id}/stages/{self.stage}"


@dataclass(frozen=True)
class DeployedFunction:
    name: str
    arn: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]
    policy: dict[str, Any] | None  # the resource policy: who may invoke it
    code_sha256: str = ""  # base64 SHA-256 of its deployment package, as Lambda reports it

    def run_settings(self) -> tuple[Any, ...]:
        """What its worker is started with, besides its code: a change needs a new worker."""
        return (
            self.handler,
            self.timeout_seconds,
            self.memory_mb,
            tuple(sorted(self.environment.items())),
        )


@dataclass(frozen=True)
class Deployment:
    environment: str
    region: str
    account_id: str
    websocket: Api
    http: Api
    # Every function an integration or authorizer names, by ARN; None if it is not deployed.
    functions: dict[str, DeployedFunction | None] = field(default_factory=dict)
    # Custom domain names mapped (without a mapping key) to the HTTP API -> the mapped stage.
    http_domains: dict[str, str] = field(default_factory=dict)
    # The environment's stacks when it was read (stacks_fingerprint), read first: a stack that
    # changed while the rest was read shows as a change.
    stacks: tuple[tuple[str, ...], ...] = field(default=(), compare=False)
    # The internal answers API (forwarding's own sockets), where the apis stack has one.
    answers: Api | None = None
    # The public REST API, where a custom domain is set.
    rest: RestStage | None = None


def apis_stack(environment: str) -> str:
    return names.stack_name(environment, "apis")


def stacks_fingerprint(cloudformation: Any, environment: str) -> tuple[tuple[str, ...], ...]:
    """What changes whenever one of the environment's stacks is created, updated or deleted,
    read cheaply: one DescribeStacks for them all (each stack's id, status and outputs), plus
    the newest event of each stack that has been updated since it was created and whose
    ``LastUpdatedTime`` is not reported (the emulator does not report it; AWS does)."""
    prefix = names.stack_prefix(environment)
    stacks = [
        stack
        for page in cloudformation.get_paginator("describe_stacks").paginate()
        for stack in page.get("Stacks", [])
        if stack["StackName"].startswith(prefix) and stack["StackStatus"] != "DELETE_COMPLETE"
    ]
    fingerprint = []
    for stack in sorted(stacks, key=lambda s: s["StackName"]):
        updated = str(stack.get("LastUpdatedTime") or "")
        if not updated and stack["StackStatus"] != "CREATE_COMPLETE":
            events = cloudformation.describe_stack_events(StackName=stack["StackId"])
            updated = next((e["EventId"] for e in events.get("StackEvents", [])), "")
        outputs = sorted(f"{o['OutputKey']}={o['OutputValue']}" for o in stack.get("Outputs", []))
        fingerprint.append(
            (stack["StackName"], stack["StackId"], stack["StackStatus"], updated, *outputs)
        )
    return tuple(fingerprint)


def load(environment: str, session: boto3.session.Session | None = None) -> Deployment:
    session = session or boto3.session.Session()
    region = session.region_name or "us-east-1"
    try:
        stacks = stacks_fingerprint(session.client("cloudformation"), environment)
        outputs = _stack_outputs(session, apis_stack(environment))
        account_id = session.client("sts").get_caller_identity()["Account"]
        gateway = session.client("apigatewayv2")
        websocket = _api(gateway, outputs["WebSocketApiId"])
        http = _api(gateway, outputs["HttpApiId"])
        answers = _api(gateway, outputs["AnswersApiId"]) if "AnswersApiId" in outputs else None
    except (BotoCoreError, ClientError) as error:
        raise DeploymentError(
            f"cannot read the deployed {environment} APIs ({error}); "
            "is AWS_ENDPOINT_URL set and was the environment launched (make local)?"
        ) from None
    except KeyError as missing:
        raise DeploymentError(
            f"stack {apis_stack(environment)} has no output {missing}; relaunch {environment}"
        ) from None
    lam = session.client("lambda")
    try:
        domains = _mapped_domains(gateway, http.api_id)
        rest = _rest_stage(session, gateway, environment, region)
    except (BotoCoreError, ClientError) as error:
        raise DeploymentError(f"cannot read the custom domains ({error})") from None
    arns = {
        arn
        for api in (websocket, http, answers)
        if api is not None
        for arn in [i.function_arn for i in api.integrations.values()]
        + [a.function_arn for a in api.authorizers.values()]
        if arn
    }
    if rest is not None and rest.function_arn:
        arns.add(rest.function_arn)
    functions = {arn: _function(lam, arn) for arn in sorted(arns)}
    return Deployment(
        environment, region, account_id, websocket, http, functions, domains, stacks, answers, rest
    )


def _rest_stage(
    session: boto3.session.Session, gateway: Any, environment: str, region: str
) -> RestStage | None:
    """The routes stack's REST API (``RestApiId``, ``RestStageName``), if it has one: the
    integration of its ``/{proxy+}`` ANY method, the domains mapped to it, its web ACL."""
    try:
        outputs = _stack_outputs(session, names.stack_name(environment, "routes"))
    except NotDeployed:
        return None
    api_id, stage = outputs.get("RestApiId"), outputs.get("RestStageName")
    if not api_id or not stage:
        return None
    rest = session.client("apigateway")
    resources = rest.get_resources(restApiId=api_id, limit=500).get("items", [])
    proxy = next((r for r in resources if r.get("path") == "/{proxy+}"), None)
    integration = (
        rest.get_integration(restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY")
        if proxy is not None
        else {}
    )
    match = _LAMBDA_URI.match(integration.get("uri") or "")
    # CloudFormation writes "/" as "~1" in BinaryMediaTypes; the API reads "*/*" either way.
    binary = {
        t.replace("~1", "/")
        for t in rest.get_rest_api(restApiId=api_id).get("binaryMediaTypes", [])
    }
    found = RestStage(
        api_id,
        stage,
        match.group(1) if match else None,
        integration.get("responseTransferMode") == "STREAM",
        _mapped_domains(gateway, api_id),
        "*/*" in binary,
    )
    try:
        acl = session.client("wafv2").get_web_acl_for_resource(ResourceArn=found.stage_arn(region))
    except ClientError as error:
        if error.response["Error"]["Code"] != "WAFNonexistentItemException":
            raise
        return found
    return replace(found, web_acl=acl["WebACL"]) if acl.get("WebACL") else found


def _mapped_domains(gateway: Any, api_id: str) -> dict[str, str]:
    """Each custom domain whose root (empty mapping key) is mapped to the API -> its stage."""
    domains = {}
    for domain in _items(gateway.get_domain_names):
        name = domain["DomainName"]
        for mapping in _items(gateway.get_api_mappings, DomainName=name):
            if mapping.get("ApiId") == api_id and not mapping.get("ApiMappingKey"):
                domains[name] = mapping["Stage"]
    return domains


def _stack_outputs(session: boto3.session.Session, stack: str) -> dict[str, str]:
    try:
        described = session.client("cloudformation").describe_stacks(StackName=stack)
    except ClientError as error:
        if "does not exist" in str(error):
            raise NotDeployed(
                f"stack {stack} does not exist; launch the environment first (make local)"
            ) from None
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}


def _items(call: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a paginated apigatewayv2 list call (NextToken, no paginator)."""
    items: list[dict[str, Any]] = []
    while True:
        page = call(**kwargs)
        items.extend(page.get("Items", []))
        if not page.get("NextToken"):
            return items
        kwargs["NextToken"] = page["NextToken"]


def _api(gateway: Any, api_id: str) -> Api:
    api = gateway.get_api(ApiId=api_id)
    routes = {
        r["RouteKey"]: Route(
            r["RouteKey"],
            r.get("Target"),
            r.get("AuthorizationType", "NONE"),
            r.get("AuthorizerId"),
        )
        for r in _items(gateway.get_routes, ApiId=api_id)
    }
    integrations = {
        i["IntegrationId"]: Integration(
            i["IntegrationId"],
            i.get("IntegrationType", ""),
            i.get("IntegrationUri"),
            i.get("PayloadFormatVersion", "1.0"),
            i.get("TimeoutInMillis"),
            dict(i.get("RequestTemplates") or {}),
            i.get("TemplateSelectionExpression"),
        )
        for i in _items(gateway.get_integrations, ApiId=api_id)
    }
    authorizers = {
        a["AuthorizerId"]: Authorizer(
            a["AuthorizerId"],
            a.get("AuthorizerType", ""),
            a.get("AuthorizerUri"),
            tuple(a.get("IdentitySource") or ()),
        )
        for a in _items(gateway.get_authorizers, ApiId=api_id)
    }
    stages = {
        s["StageName"]: dict(s.get("StageVariables") or {})
        for s in _items(gateway.get_stages, ApiId=api_id)
    }
    return Api(
        api_id,
        api.get("ProtocolType", ""),
        api.get("RouteSelectionExpression", ""),
        routes,
        integrations,
        authorizers,
        stages,
        bool(api.get("DisableExecuteApiEndpoint", False)),
    )


def _function(lam: Any, arn: str) -> DeployedFunction | None:
    try:
        # GetFunction has its own 100/s quota; the rest of Lambda's control plane shares 15/s
        # (aws_fidelity.rules.check_lambda_request_rate).
        configuration = lam.get_function(FunctionName=arn)["Configuration"]
    except lam.exceptions.ResourceNotFoundException:
        return None
    try:
        policy = json.loads(lam.get_policy(FunctionName=arn)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        policy = None  # no resource policy: nothing may invoke it
    return function_of(configuration, policy)


def function_of(configuration: dict[str, Any], policy: dict[str, Any] | None) -> DeployedFunction:
    """A function as GetFunctionConfiguration describes it, with its resource policy."""
    return DeployedFunction(
        name=configuration["FunctionName"],
        arn=configuration["FunctionArn"],
        handler=configuration.get("Handler", ""),
        timeout_seconds=int(configuration.get("Timeout", 3)),
        memory_mb=int(configuration.get("MemorySize", 128)),
        environment=dict(configuration.get("Environment", {}).get("Variables", {})),
        policy=policy,
        code_sha256=str(configuration.get("CodeSha256", "")),
    )
