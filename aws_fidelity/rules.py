"""Every way the local stack (emulator and local gateway) is stricter than moto, in one file.

Each rule is one function. Its docstring names the AWS behaviour and the source it was
confirmed against (an AWS documentation page, or a public issue that shows the real error);
``tests/fidelity/`` holds one test per rule that shows it refusing what AWS refuses. A rule
that refuses raises :class:`Refused` with the error code and message AWS gives, so a test, the
emulator's API answer and a failed CloudFormation resource all read like AWS's own.

Who applies them:
- the emulator's CloudFormation providers and API patches (``emulator/``);
- the local API Gateway (``local_gateway/``), for the shape of the events it delivers;
- the preflight hook (``hooks/preflight.py``) and the settings, for the numbers.
"""

from __future__ import annotations

import re


class Refused(Exception):
    """AWS would refuse this request: ``code`` and ``message`` as AWS gives them."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


# --- API Gateway: account settings and stages ----------------------------------------------

NO_CLOUDWATCH_ROLE = "CloudWatch Logs role ARN must be set in account settings to enable logging"


def check_websocket_stage_logging(
    protocol: str, logs: bool, cloudwatch_role_arn: str | None
) -> None:
    """A WebSocket stage that logs (access logs, or an execution logging level) cannot be
    created or updated while the account and region have no API Gateway CloudWatch role:
    ``BadRequestException: CloudWatch Logs role ARN must be set in account settings to enable
    logging``. CloudFormation fails the stage and rolls the stack back. HTTP API stages write
    access logs without that role.

    Sources: sst/sst#1556 and sst/sst#4663 (the error on a fresh account), aws/aws-cdk#33977;
    "Set up CloudWatch logging for REST APIs / WebSocket APIs" (the account-level role),
    https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html.
    """
    if protocol == "WEBSOCKET" and logs and not cloudwatch_role_arn:
        raise Refused("BadRequestException", NO_CLOUDWATCH_ROLE)


def check_cloudwatch_role(role_arn: str, trusted_services: set[str] | None) -> None:
    """``update-account`` (``AWS::ApiGateway::Account``) with a ``cloudwatchRoleArn`` that API
    Gateway cannot assume is refused. ``trusted_services`` is the role's trust policy's
    service principals, None when the role does not exist.

    Sources: aws-cloudformation/rain#163 (today's message, below, from a CloudFormation
    handler), aws/aws-cdk#2194 (the older "... does not have required permissions set to API
    Gateway"); "Set up CloudWatch logging" (the role trusts apigateway.amazonaws.com),
    https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html.
    """
    if trusted_services is None or "apigateway.amazonaws.com" not in trusted_services:
        raise Refused(
            "BadRequestException",
            "The role ARN does not have required permissions configured. Please grant trust "
            "permission for API Gateway and add the required role policy.",
        )


def role_trusted_services(trust_policy: dict) -> set[str]:
    """The service principals a role's trust policy (parsed) lets assume it: statements with
    ``Effect: Allow`` whose actions cover ``sts:AssumeRole`` (``sts:AssumeRole``, ``sts:*`` or
    ``*``, case-insensitive as IAM actions are). For :func:`check_cloudwatch_role`."""
    statements = trust_policy.get("Statement", []) if isinstance(trust_policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    services: set[str] = set()
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(str(a).lower() in ("sts:assumerole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal")
        found = principal.get("Service", []) if isinstance(principal, dict) else []
        services.update([found] if isinstance(found, str) else found)
    return services


# The $context variables each protocol's access-log format accepts. Families such as
# $context.authorizer.<property> end in ".*".
# Source: https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html
WEBSOCKET_API_ACCESS_LOG_VARIABLES = frozenset(
    f"$context.{name}"
    for name in (
        "apiId authorize.error authorize.latency authorize.status authorizer.error "
        "authorizer.integrationLatency authorizer.integrationStatus authorizer.latency "
        "authorizer.requestId authorizer.status authorizer.principalId authorizer.* "
        "authenticate.error authenticate.latency authenticate.status connectedAt connectionId "
        "domainName error.message error.messageString error.responseType "
        "error.validationErrorString eventType extendedRequestId identity.accountId "
        "identity.apiKey identity.apiKeyId identity.caller "
        "identity.cognitoAuthenticationProvider identity.cognitoAuthenticationType "
        "identity.cognitoIdentityId identity.cognitoIdentityPoolId identity.principalOrgId "
        "identity.sourceIp identity.user identity.userAgent identity.userArn "
        "integration.error integration.integrationStatus integration.latency "
        "integration.requestId integration.status integrationLatency integrationStatus "
        "messageId requestId requestTime requestTimeEpoch routeKey stage status"
    ).split()
)
# Source: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
# less $context.identity.cognitoIdentityId, which that page lists but CreateStage refuses for
# HTTP APIs ("The following context variables are not supported:
# [$context.identity.cognitoIdentityId]", sst/sst#2587; WebSocket APIs accept it).
HTTP_API_ACCESS_LOG_VARIABLES = frozenset(
    f"$context.{name}"
    for name in (
        "accountId apiId authorizer.claims.* authorizer.error authorizer.* "
        "awsEndpointRequestId awsEndpointRequestId2 customDomain.basePathMatched dataProcessed "
        "domainName domainPrefix error.message error.messageString error.responseType "
        "extendedRequestId httpMethod identity.accountId identity.caller "
        "identity.cognitoAuthenticationProvider identity.cognitoAuthenticationType "
        "identity.cognitoIdentityPoolId identity.principalOrgId "
        "identity.clientCert.* identity.sourceIp identity.user identity.userAgent "
        "identity.userArn integration.error integration.integrationStatus "
        "integration.latency integration.requestId integration.status "
        "integrationErrorMessage integrationLatency integrationStatus path protocol requestId "
        "requestTime requestTimeEpoch responseLatency responseLength routeKey stage status"
    ).split()
)
ACCESS_LOG_VARIABLES = {
    "WEBSOCKET": WEBSOCKET_API_ACCESS_LOG_VARIABLES,
    "HTTP": HTTP_API_ACCESS_LOG_VARIABLES,
}
_CONTEXT_VARIABLE = re.compile(r"\$context\.[A-Za-z0-9_.]+[A-Za-z0-9_]")


def _supported(variable: str, supported: frozenset[str]) -> bool:
    if variable in supported:
        return True
    return any(family.endswith(".*") and variable.startswith(family[:-1]) for family in supported)


def check_access_log_format(protocol: str, log_format: str) -> None:
    """A stage's access-log format may use only the ``$context`` variables its API's protocol
    has; anything else is refused with ``BadRequestException: The following context variables
    are not supported: [$context.x]``. ``$context.connectionId`` and ``$context.eventType``
    exist for WebSocket APIs only; ``$context.httpMethod`` and ``$context.path`` for HTTP APIs.

    Several are named together, as in serverless/serverless#7016: ``[$context.authorizer,
    $context.error]`` (a family's bare prefix is no variable).

    Sources: serverless/serverless#7038 and #7016 (the error, with the variables named);
    sst/sst#2587 (an HTTP stage refused ``$context.identity.cognitoIdentityId``); the two
    variable lists above, from the HTTP API and WebSocket API logging pages.
    """
    supported = ACCESS_LOG_VARIABLES.get(protocol)
    if supported is None:
        return
    unsupported = sorted(
        {v for v in _CONTEXT_VARIABLE.findall(log_format) if not _supported(v, supported)}
    )
    if unsupported:
        raise Refused(
            "BadRequestException",
            f"The following context variables are not supported: [{', '.join(unsupported)}]",
        )


# --- Lambda: concurrency ---------------------------------------------------------------------

# Lambda's default concurrency quota; new accounts are often given 10 to 50.
DEFAULT_CONCURRENT_EXECUTIONS = 1000


def unreserved_minimum(quota: int) -> int:
    """The executions Lambda keeps unreserved: 100, or the whole quota below 100.

    Sources: "Configuring reserved concurrency" ("You can reserve up to the Unreserved account
    concurrency value minus 100"), https://docs.aws.amazon.com/lambda/latest/dg/
    configuration-concurrency.html; the real errors name [100] on a 1000 account and [50] and
    [10] on accounts whose quota is 50 and 10 (aws-samples/siem-on-amazon-opensearch-service#175,
    aws-samples/one-observability-demo#278, aws-samples/alarm-context-tool#2).
    """
    return min(100, quota)


def check_reservation(quota: int, reserved_by_others: int, requested: int) -> None:
    """``PutFunctionConcurrency`` (and ``ReservedConcurrentExecutions`` in CloudFormation)
    refuses a reservation that leaves fewer unreserved executions than the minimum:
    ``InvalidParameterValueException: Specified ReservedConcurrentExecutions for function
    decreases account's UnreservedConcurrentExecution below its minimum value of [N].``
    ``reserved_by_others`` excludes the function's own current reservation.

    Sources: as for :func:`unreserved_minimum`.
    """
    minimum = unreserved_minimum(quota)
    if quota - reserved_by_others - requested < minimum:
        raise Refused(
            "InvalidParameterValueException",
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{minimum}].",
        )


# --- API Gateway: the events an HTTP API delivers --------------------------------------------

DEFAULT_STAGE = "$default"


def execute_api_host(api_id: str, region: str, url_suffix: str = "amazonaws.com") -> str:
    """An API's own endpoint: ``<api-id>.execute-api.<region>.amazonaws.com``."""
    return f"{api_id}.execute-api.{region}.{url_suffix}"


def http_api_stage(stage_names: set[str], path: str) -> tuple[str, str] | None:
    """The stage a request to an HTTP API's own endpoint reaches, and the rawPath it delivers.

    A named stage is the path's first segment, and it STAYS in ``rawPath``: a request to
    ``/dev/foo`` on stage ``dev`` reaches the function as ``rawPath: "/dev/foo"``; the
    ``$default`` stage is served at the root, without a prefix. A path that names no stage,
    with no ``$default`` stage, matches nothing (``{"message":"Not Found"}``).

    Sources: aws-powertools/powertools-lambda-python#621 and logandk/serverless-wsgi#191 (rawPath
    carries the stage); "Working with stages for HTTP APIs" (the $default stage is served from
    the base of the API's URL), https://docs.aws.amazon.com/apigateway/latest/developerguide/
    http-api-stages.html.
    """
    segment = path.lstrip("/").split("/", 1)[0]
    if segment and segment != DEFAULT_STAGE and segment in stage_names:
        return segment, path
    if DEFAULT_STAGE in stage_names:
        return DEFAULT_STAGE, path
    return None


def http_api_mapped_path(stage: str, path: str) -> str:
    """The rawPath a request through a custom domain's API mapping (no mapping key) delivers.

    Reported to keep a named stage's prefix behind a custom domain too
    (CodeGenieApp/serverless-express#465): ``/foo`` on a domain mapped to stage ``dev``
    arrives as ``/dev/foo``. ``$default`` adds nothing. Modelled as reported, the stricter way:
    code that works here works either way.
    """
    return path if stage == DEFAULT_STAGE else f"/{stage}{path}"


def http_api_host(
    request_host: str, api_id: str, region: str, custom_domains: set[str]
) -> str | None:
    """The Host an HTTP API's function sees, or None if that name does not reach the API.

    Without a custom domain an HTTP API is reached at its execute-api host only: there is no
    ``<subdomain>.`` in front of anything, since execute-api hosts take no wildcard, and the
    function's ``headers.host`` and ``requestContext.domainName`` are
    ``<api-id>.execute-api.<region>.amazonaws.com``. A custom domain (``*.tunnel.example.com``)
    adds its own names. Source: "Custom domain names for HTTP APIs" ("the default API endpoint
    ... https://api-id.execute-api.region.amazonaws.com"; wildcard custom domains),
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-custom-domain-names.html.
    """
    host = request_host.split(":")[0].lower()
    if host == execute_api_host(api_id, region):
        return host
    for domain in custom_domains:
        if domain.startswith("*."):
            parent = domain[2:]
            if host.endswith("." + parent) and "." not in host[: -len(parent) - 1]:
                return host
        elif host == domain:
            return host
    return None
