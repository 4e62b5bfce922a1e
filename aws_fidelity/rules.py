"""Every way the local stack (emulator and local gateway) is stricter than moto, in one file.

Each rule is one function. Its docstring names the AWS behaviour and the source it was
confirmed against (an AWS documentation page, or a public issue that shows the real error);
``tests/fidelity/`` holds one test per rule that shows it refusing what AWS refuses. A rule
that refuses raises :class:`Refused` with the error code and message AWS gives, so a test, the
emulator's API answer and a failed CloudFormation resource all read like AWS's own.

Who applies them:
- the emulator's CloudFormation providers and API patches (``emulator/``), its S3 presigned
  URL checks (``emulator/presigned_urls.py``, with ``aws_fidelity.sigv4``), its Lambda code
  locations (``emulator/function_code.py``) and its SigV4 check of every other request
  (``emulator/browser_guard.py``);
- the local API Gateway (``local_gateway/``), for the shape of the events it delivers and the
  payload limits of HTTP APIs and Lambda;
- the preflight hook (``hooks/preflight.py``) and the settings, for the numbers.

Not refusals, so not here, but the same kind of fidelity: moto behaviours fixed to match AWS
where it was more lenient or wrong, each with its source and a test in ``tests/emulator/``:
DynamoDB item operations made atomic (``emulator/atomic_items.py``); S3 lifecycle rules,
bucket versioning and policies, and DynamoDB TTL applied from CloudFormation
(``emulator/providers/``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import ModuleType
from typing import NamedTuple

from aws_fidelity import sigv4


class Refused(Exception):
    """AWS would refuse this request: ``code`` and ``message`` as AWS gives them; ``details``
    are the further fields some errors carry (S3's ``<Expires>``, ``<ServerTime>``...)."""

    def __init__(
        self, code: str, message: str, status: int = 400, details: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = dict(details or {})


def _limits() -> ModuleType:
    """``tunnel_shared.limits``, where the numbers are. Imported when a rule needs it: the
    emulator's virtualenv, which imports this module too, has no tunnel_shared (it ships in
    functions/), and applies none of the rules that use it."""
    from tunnel_shared import limits

    return limits


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
    from tunnel_shared import names  # not at import: see _limits

    host = request_host.split(":")[0].lower()
    if host == names.execute_api_host(api_id, region):
        return host
    for domain in custom_domains:
        if domain.startswith("*."):
            parent = domain[2:]
            if host.endswith("." + parent) and "." not in host[: -len(parent) - 1]:
                return host
        elif host == domain:
            return host
    return None


# --- API Gateway HTTP APIs and Lambda: payload limits ----------------------------------------


def check_http_api_payload(content_length: int) -> None:
    """A request whose body is over the HTTP API's payload quota (10 MB: 10,485,760 bytes) is
    answered by API Gateway itself, before any route or integration: **413** with the plain-text
    body ``HTTP content length exceeded 10485760 bytes.`` and ``content-type: text;
    charset=utf-8``, no ``x-amzn-errortype`` (the code here only names the 413). Exactly
    10,485,760 bytes pass. ``content_length`` is the body's length in bytes: its Content-Length,
    or what a chunked body has sent so far.

    Sources: koki-develop/lgtm-generator#10 (the real response, headers and body, captured with
    curl; that API is a REST API, serverless ``http`` events: the HTTP API's identical answer is
    assumed, not captured); the HTTP API quotas ("Payload size 10 MB", not increasable),
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html.
    """
    limit = _limits().HTTP_API_PAYLOAD_BYTES
    if content_length > limit:
        raise Refused("RequestEntityTooLarge", f"HTTP content length exceeded {limit} bytes.", 413)


def check_invocation_request(event_bytes: int) -> None:
    """An event over Lambda's synchronous invocation payload (6,291,456 bytes, as
    ``json.dumps`` writes it) is refused by Lambda (``RequestEntityTooLargeException: Request
    must be smaller than 6291456 bytes for the InvokeFunction operation``), and API Gateway
    answers **413** ``{"message": "Request Too Long"}`` with ``content-type: application/json``
    and ``x-amzn-errortype: BadRequestException``: the code and message here. The function never
    runs. Exactly 6,291,456 bytes pass.

    A body far below the 10 MB of :func:`check_http_api_payload` meets this: HTTP APIs deliver
    any body that is not text base64-encoded (4 bytes for 3), inside the event's JSON.

    Sources: koki-develop/lgtm-generator#10 (the 413 and its headers, captured from a REST API,
    as for :func:`check_http_api_payload`); pelmers/streetwarp-web#14 and JupiterOne/sdk#565
    (Lambda's error text and its number).
    """
    limit = _limits().LAMBDA_REQUEST_PAYLOAD_BYTES
    if event_bytes > limit:
        raise Refused("BadRequestException", "Request Too Long", 413)


def check_invocation_response(result_bytes: int) -> None:
    """A function result over 6,291,556 bytes (its JSON) is not delivered: the invocation fails
    with ``Function.ResponseSizeTooLarge``, ``Response payload size exceeded maximum allowed
    payload size (6291556 bytes).``, which API Gateway logs as the integration error
    (``$context.integration.error``: ``Lambda Customer Function Error:Response payload size
    exceeded ...``) and answers **502** (``INTEGRATION_FAILURE``), not the 500 of a function
    that raised. The status is confirmed; the HTTP API's exact body for this case is not: the
    local gateway answers its usual ``{"message": "Internal Server Error"}``. Exactly 6,291,556
    bytes pass.

    Sources: DataBiosphere/azul#8192 and #7466 (the integration error, status 502), #8258 (the
    502 at the threshold); umihico/pythonista-chromeless#11 (the error type,
    ``Function.ResponseSizeTooLarge``); anomalyco/console#63 (an HTTP API function's runtime
    refused with "Exceeded maximum allowed payload size (6291556 bytes).").
    """
    limit = _limits().LAMBDA_RESPONSE_PAYLOAD_BYTES
    if result_bytes > limit:
        raise Refused(
            "Function.ResponseSizeTooLarge",
            f"Response payload size exceeded maximum allowed payload size ({limit} bytes).",
            502,
        )


# --- S3: presigned URLs ----------------------------------------------------------------------

# A presigned URL lives at most a week (SigV4).
MAX_PRESIGNED_SECONDS = 7 * 24 * 60 * 60
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_S3_TIME = "%Y-%m-%dT%H:%M:%SZ"


def _amz_time(text: str) -> datetime:
    return datetime.strptime(text, _AMZ_DATE).replace(tzinfo=UTC)


def check_presigned_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    secret_keys: Mapping[str, str],
    now: float | None = None,
) -> None:
    """A presigned (SigV4 query-string) S3 request is served only if S3 verifies it, checked in
    this order:

    1. ``X-Amz-Expires`` over 604,800 (a week): **400** ``AuthorizationQueryParametersError``
       ``X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires
       must be less than 604800 seconds``;
    2. ``X-Amz-Date`` + ``X-Amz-Expires`` before ``now``: **403** ``AccessDenied`` ``Request has
       expired`` (with ``X-Amz-Expires``, ``Expires`` and ``ServerTime``). S3 says so before it
       looks at the signature: a URL whose X-Amz-Date was edited after signing is "expired";
    3. an access key id it does not know: **403** ``InvalidAccessKeyId`` ``The AWS Access Key Id
       you provided does not exist in our records.``;
    4. any other signature than the one computed from the request as received (another secret,
       another method, another key or path, an edited parameter): **403**
       ``SignatureDoesNotMatch`` ``The request signature we calculated does not match the
       signature you provided. Check your key and signing method.``.
    A URL lacking one of the six X-Amz parameters, or with unreadable ones: **400**
    ``AuthorizationQueryParametersError`` (the code is S3's; the message here is not confirmed).
    The order of 2 and 3 is not confirmed either. ``raw_path`` and ``raw_query`` are as sent;
    ``headers`` are the request's (``host`` is signed); ``secret_keys`` maps access key ids to
    secrets.

    Sources: "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)",
    https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (the
    parameters, what is signed; X-Amz-Expires in seconds, at most seven days);
    "Download and upload objects with presigned URLs" (usable until its expiration, by anyone
    holding it, for its object and method), https://docs.aws.amazon.com/AmazonS3/latest/
    userguide/using-presigned-url.html; "Error responses" (the codes, XML error documents),
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html; the real errors:
    aws/aws-sdk-php#1333 and aws/aws-sdk-js#3493 (Request has expired, with X-Amz-Expires,
    Expires, ServerTime), versitygw/versitygw#2116 (expired before the signature is checked),
    bryanjos/aws_auth#31, aws/aws-cli#5464 and minio/minio#5162 (the week), the S3 error list
    (InvalidAccessKeyId, SignatureDoesNotMatch).
    """
    pairs = sigv4.query_pairs(raw_query)
    try:
        claims = sigv4.query_claims(pairs)
        signed_at = _amz_time(claims.amz_date)
        expires = int(claims.expires or "")
        if expires < 0:
            raise ValueError(expires)
    except ValueError:  # sigv4.Malformed too
        raise Refused(
            "AuthorizationQueryParametersError",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters.",
        ) from None
    if expires > MAX_PRESIGNED_SECONDS:
        raise Refused(
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds); that is, the given "
            f"X-Amz-Expires must be less than {MAX_PRESIGNED_SECONDS} seconds",
        )
    moment = time.time() if now is None else now
    deadline = signed_at.timestamp() + expires
    if deadline < moment:
        server_time = datetime.fromtimestamp(moment, UTC)
        raise Refused(
            "AccessDenied",
            "Request has expired",
            403,
            {
                "X-Amz-Expires": str(expires),
                "Expires": datetime.fromtimestamp(deadline, UTC).strftime(_S3_TIME),
                "ServerTime": server_time.strftime(_S3_TIME),
            },
        )
    access_key_id = claims.credential.access_key_id
    secret = secret_keys.get(access_key_id)
    if secret is None:
        raise Refused(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
            {"AWSAccessKeyId": access_key_id},
        )
    query = sigv4.canonical_query(pairs, leave_out=sigv4.SIGNATURE_PARAMETER)
    expected = sigv4.expected_signature(
        claims, secret, method, raw_path, query, list(headers), sigv4.UNSIGNED_PAYLOAD
    )
    if not sigv4.matches(claims, expected):
        raise Refused(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            403,
            {"AWSAccessKeyId": access_key_id},
        )


# --- Lambda: an update takes time -----------------------------------------------------------

# How long the emulator keeps a function's LastUpdateStatus InProgress after an update through
# the API (AWS takes seconds; the emulator's default is shorter, and it can be changed:
# emulator/strict.py, EMULATOR_LAMBDA_UPDATE_SECONDS).
DEFAULT_LAMBDA_UPDATE_SECONDS = 0.5
# The operations that fail while an update is in progress.
UPDATE_CONFLICTING_OPERATIONS = (
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "PublishVersion",
)


def check_no_update_in_progress(last_update_status: str, function_arn: str) -> None:
    """An update to a Lambda function is asynchronous: ``LastUpdateStatus`` is ``InProgress``
    until it is done, invocations meanwhile go to the previous code and configuration, and
    ``UpdateFunctionCode``, ``UpdateFunctionConfiguration`` and ``PublishVersion`` fail:
    **409** ``ResourceConflictException``. moto applies every update at once and never refuses,
    so a tool that updates twice without waiting passes there and fails on AWS.

    Sources: "Lambda function states", section "Function states while updating" ("While a
    function update is in progress, invocations go to the function's previous code and
    configuration"; "The following operations fail while an asynchronous update is in
    progress"), https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html; the error
    as AWS gives it ("The operation cannot be performed at this time. An update is in progress
    for resource: arn:aws:lambda:...") in rackerlabs/lambda-uploader#169 and
    serverless-components/express#77.
    """
    if last_update_status == "InProgress":
        raise Refused(
            "ResourceConflictException",
            "The operation cannot be performed at this time. An update is in progress for "
            f"resource: {function_arn}",
            409,
        )


# --- Lambda: code from S3 must be there ------------------------------------------------------


def check_code_object(bucket_exists: bool, key_exists: bool) -> None:
    """Lambda reads a function's zip from S3 when it is given ``S3Bucket`` and ``S3Key``
    (CreateFunction, UpdateFunctionCode): a missing object is refused, **400**
    ``InvalidParameterValueException``, in Lambda's words for S3's error. moto's
    UpdateFunctionCode accepts a missing key and leaves the function with no code at all.

    Sources: the error as AWS gives it, "Error occurred while GetObject. S3 Error Code:
    NoSuchKey. S3 Error Message: The specified key does not exist." (Status Code: 400; Error
    Code: InvalidParameterValueException), in aws-solutions/aws-waf-security-automations#135
    and amazon-connect/amazon-connect-realtime-transcription#35; for UpdateFunctionCode too,
    floci-io/floci#219 ("Returns HTTP 400 InvalidParameterValueException when the referenced
    S3 object does not exist, matching AWS behaviour").
    """
    if not bucket_exists:
        raise Refused(
            "InvalidParameterValueException",
            "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The "
            "specified bucket does not exist",
        )
    if not key_exists:
        raise Refused(
            "InvalidParameterValueException",
            "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The "
            "specified key does not exist.",
        )


# --- Lambda: GetFunction's Code.Location ----------------------------------------------------

# GetFunction's link to the deployment package is valid for 10 minutes.
CODE_LOCATION_SECONDS = 10 * 60


def check_code_location(
    expires_at: float, signature_matches: bool, now: float | None = None
) -> None:
    """``GetFunction`` returns ``Code.Location``, a presigned URL to download the function's
    deployment package, valid for 10 minutes (``CODE_LOCATION_SECONDS``); the emulator's stands
    in for that S3 URL (``emulator/function_code.py``) and is refused as S3 refuses a presigned
    URL, in S3's order:

    1. used after ``expires_at``: **403** ``AccessDenied`` ``Request has expired`` (with
       ``Expires`` and ``ServerTime``), before the signature is looked at;
    2. edited after it was issued (another function, code, expiry or signature): **403**
       ``SignatureDoesNotMatch``.

    Sources: "GetFunction" ("with a link to download the deployment package that's valid for 10
    minutes"), https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html;
    "FunctionCodeLocation" (``Location``: "A presigned URL that you can use to download the
    deployment package"), https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCodeLocation.html;
    the S3 refusals as in :func:`check_presigned_request`.
    """
    moment = time.time() if now is None else now
    if expires_at < moment:
        raise Refused(
            "AccessDenied",
            "Request has expired",
            403,
            {
                "Expires": datetime.fromtimestamp(expires_at, UTC).strftime(_S3_TIME),
                "ServerTime": datetime.fromtimestamp(moment, UTC).strftime(_S3_TIME),
            },
        )
    if not signature_matches:
        raise Refused(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            403,
        )


# --- API Gateway: the @connections management API (execute-api, IAM) -----------------------

# The credentials the emulator and the local gateway know, access key id -> secret: the ones
# their clients are given (emulator.process.client_environment), which the local gateway hands
# on to every function worker (local_gateway.lambda_runtime). Anything signed with another key
# is refused, as AWS refuses a key it does not know.
KNOWN_CREDENTIALS: Mapping[str, str] = {"testing": "testing"}
EXECUTE_API = "execute-api"
# How far a header-signed request's X-Amz-Date may be from the receiver's clock (SigV4).
MAX_CLOCK_SKEW_SECONDS = 5 * 60
MISSING_AUTHENTICATION_TOKEN = "Missing Authentication Token"
INVALID_SECURITY_TOKEN = "The security token included in the request is invalid."
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_AUTHORIZATION_FIELDS = ("Credential", "Signature", "SignedHeaders")


def _incomplete_signature(authorization: str, amz_date: str) -> str | None:
    """API Gateway's IncompleteSignatureException message for an Authorization header that
    lacks a part SigV4 needs, None if it has them all."""
    algorithm, _, rest = authorization.strip().partition(" ")
    fields = set()
    if algorithm == sigv4.ALGORITHM:
        fields = {part.strip().partition("=")[0] for part in rest.split(",") if "=" in part}
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in _AUTHORIZATION_FIELDS
        if name not in fields
    ]
    if not amz_date:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if not problems:
        return None
    return " ".join(problems) + f" Authorization={authorization}"


def _skew_message(signed_at: datetime, now: datetime) -> str | None:
    signed, moment = signed_at.strftime(_AMZ_DATE), now.strftime(_AMZ_DATE)
    skew = MAX_CLOCK_SKEW_SECONDS
    minutes = skew // 60
    if signed_at.timestamp() < now.timestamp() - skew:
        earliest = datetime.fromtimestamp(now.timestamp() - skew, UTC).strftime(_AMZ_DATE)
        return (
            f"Signature expired: {signed} is now earlier than {earliest} "
            f"({moment} - {minutes} min.)"
        )
    if signed_at.timestamp() > now.timestamp() + skew:
        latest = datetime.fromtimestamp(now.timestamp() + skew, UTC).strftime(_AMZ_DATE)
        return (
            f"Signature not yet current: {signed} is still later than {latest} "
            f"({moment} + {minutes} min.)"
        )
    return None


def check_management_api_signature(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    secret_keys: Mapping[str, str] = KNOWN_CREDENTIALS,
    now: float | None = None,
) -> None:
    """The @connections management API (POST, GET and DELETE on
    ``/<stage>/@connections/<id>``) takes IAM-authorized calls only: each must carry a SigV4
    ``Authorization`` header for the service ``execute-api``, signed by a key API Gateway knows,
    over the request as it arrives (method, the path normalized and URI-encoded once more, so
    ``/dev/@connections/abc%3D`` is signed as ``/dev/%40connections/abc%253D``, the query, the
    signed headers and the SHA-256 of the body: a message altered on the way is refused). Every
    refusal is **403**, with ``x-amzn-ErrorType`` the code here, checked in this order:

    1. no Authorization header: ``MissingAuthenticationTokenException`` ``Missing
       Authentication Token``;
    2. an Authorization header without Credential, Signature or SignedHeaders, or no
       X-Amz-Date: ``IncompleteSignatureException`` ``Authorization header requires
       'Credential' parameter. ... Authorization=<the header>``;
    3. a credential scoped to another service: ``InvalidSignatureException`` ``Credential should
       be scoped to correct service: 'execute-api'. ``;
    4. an X-Amz-Date more than 5 minutes before the receiver's clock:
       ``InvalidSignatureException`` ``Signature expired: <X-Amz-Date> is now earlier than <now -
       5 min> (<now> - 5 min.)``; more than 5 minutes after it: ``Signature not yet current:
       <X-Amz-Date> is still later than <now + 5 min> (<now> + 5 min.)``;
    5. an access key id it does not know: ``AccessDeniedException`` ``The security token
       included in the request is invalid.``;
    6. any other signature than the one computed from the request as received (another secret,
       an edited body, path, header or date): ``InvalidSignatureException`` ``The request
       signature we calculated does not match the signature you provided. Check your AWS Secret
       Access Key and signing method. Consult the service documentation for details.``, followed
       by the canonical string and string-to-sign API Gateway expected.
    ``X-Amz-Content-Sha256`` is not trusted for the payload (execute-api signs the body's
    SHA-256; an ``UNSIGNED-PAYLOAD`` body fails to match). Not modelled: presigned (query
    string) calls, which are refused as unsigned, a ``Date`` header instead of X-Amz-Date
    (refused as incomplete), the credential's region (any region is verified as signed) and
    session tokens (not checked). The order of 3 to 5 is not confirmed, nor are the messages of a
    malformed credential or date (``sigv4.Malformed``'s, as IncompleteSignatureException).

    Sources: "Use @connections commands in your backend service" (these requests use IAM
    authorization and must be signed with SigV4), https://docs.aws.amazon.com/apigateway/latest/
    developerguide/apigateway-how-to-call-websocket-api-connections.html; "Control access to
    WebSocket APIs with IAM authorization" (``execute-api:ManageConnections``), https://
    docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-control-access-
    iam.html; "How do I troubleshoot HTTP 403 errors from API Gateway?" (the error types and
    messages of 1, 4 and 5), https://repost.aws/knowledge-center/api-gateway-troubleshoot-403-
    forbidden; "How do I troubleshoot signature mismatch errors ... IAM authentication to API
    Gateway?" (5 and 6), https://repost.aws/knowledge-center/api-gateway-iam-sigv4-mismatch; the
    real errors: brain-power/Brain-Power-Amazon-Fidgetology#29 (1, its headers),
    aws-amplify/amplify-flutter#1539 and aws/chalice#828 (2, 403), aws/aws-sdk-js-v3#1831 (3,
    from PostToConnection), cognitect-labs/aws-api#255 (4, from PostToConnection, 403),
    serverless/enterprise#11 and NickWaterton/Roomba980-Python#118 (4, not yet current),
    kndt84/aws-api-gateway-client#31 (5), rpgreen/apigateway-generic-java-sdk#11 (6, execute-api,
    403), mhart/aws4#33 (6, with the canonical string), aws/aws-sdk-go-v2#889 (the canonical
    path of PostToConnection, the id encoded twice), aws/aws-sdk-js-v3#308 (UNSIGNED-PAYLOAD).
    """
    received = list(headers)
    lower = {name.lower(): value for name, value in received}
    authorization = lower.get("authorization", "")
    if not authorization:
        raise Refused("MissingAuthenticationTokenException", MISSING_AUTHENTICATION_TOKEN, 403)
    amz_date = lower.get("x-amz-date", "")
    incomplete = _incomplete_signature(authorization, amz_date)
    if incomplete is not None:
        raise Refused("IncompleteSignatureException", incomplete, 403)
    try:
        claims = sigv4.header_claims(authorization, amz_date)
        signed_at = _amz_time(claims.amz_date)
    except ValueError as error:  # sigv4.Malformed too
        raise Refused("IncompleteSignatureException", str(error), 403) from None
    if claims.credential.service != EXECUTE_API:
        raise Refused(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{EXECUTE_API}'. ",
            403,
        )
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    skewed = _skew_message(signed_at, moment)
    if skewed is not None:
        raise Refused("InvalidSignatureException", skewed, 403)
    secret = secret_keys.get(claims.credential.access_key_id)
    if secret is None:
        raise Refused("AccessDeniedException", INVALID_SECURITY_TOKEN, 403)
    canonical = sigv4.canonical_request(
        method,
        sigv4.canonical_uri(raw_path, EXECUTE_API),
        sigv4.canonical_query(sigv4.query_pairs(raw_query)),
        received,
        claims.signed_headers,
        hashlib.sha256(body).hexdigest(),
    )
    to_sign = sigv4.string_to_sign(claims.amz_date, claims.credential.scope, canonical)
    if not sigv4.matches(claims, sigv4.signature(secret, claims.credential, to_sign)):
        raise Refused(
            "InvalidSignatureException",
            f"{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n"
            f"'{canonical}'\n\nThe String-to-Sign should have been\n'{to_sign}'\n",
            403,
        )


# --- API Gateway HTTP APIs: the default endpoint ---------------------------------------------


def check_execute_api_endpoint(disabled: bool) -> None:
    """An HTTP API created or updated with ``DisableExecuteApiEndpoint: true`` is no longer
    served at its own endpoint, ``https://<api-id>.execute-api.<region>.amazonaws.com``, on any
    stage: a request there gets **404** ``{"message":"Not Found"}`` (a REST API answers 403
    Forbidden instead), before any route or integration. The custom domain names mapped to the
    API serve it as before. The 404 is as AWS's knowledge center states it; its body is
    assumed to be the HTTP API's usual ``{"message":"Not Found"}``, not captured.

    Sources: "Disable the default endpoint for HTTP APIs" (clients can then reach the API only
    by a custom domain name; it affects all stages), https://docs.aws.amazon.com/apigateway/
    latest/developerguide/http-api-disable-default-endpoint.html; "Deactivate the API Gateway
    default endpoint API" ("You receive an HTTP '403 Forbidden' error for REST APIs or an HTTP
    '404 Not Found' error for HTTP APIs"), https://repost.aws/knowledge-center/
    api-gateway-disable-endpoint, as quoted in floci-io/floci#2054; "Disable the default
    endpoint for REST APIs" (the REST API's 403), https://docs.aws.amazon.com/apigateway/latest/
    developerguide/rest-api-disable-default-endpoint.html; the ``DisableExecuteApiEndpoint``
    property of ``AWS::ApiGatewayV2::Api``, https://docs.aws.amazon.com/AWSCloudFormation/
    latest/TemplateReference/aws-resource-apigatewayv2-api.html.
    """
    if disabled:
        raise Refused("NotFoundException", "Not Found", 404)


# --- Every API the emulator serves: requests are SigV4-signed --------------------------------

# The wire protocols whose authentication errors differ (request_protocol).
S3_PROTOCOL = "s3"  # S3's REST-XML: <Error><Code>...</Code><Message>...
QUERY_PROTOCOL = "query"  # <ErrorResponse><Error><Type>Sender</Type><Code>: CloudFormation, IAM
JSON_PROTOCOL = "json"  # X-Amz-Target; {"__type": ...}: Secrets Manager, DynamoDB, KMS, Logs
REST_JSON_PROTOCOL = "rest-json"  # x-amzn-ErrorType: Lambda, API Gateway
# How far from S3's clock a header-signed request's X-Amz-Date may be (other services: 5 min).
S3_MAX_CLOCK_SKEW_SECONDS = 15 * 60
# A presigned request to a service other than S3 is refused this long after it expired.
PRESIGNED_GRACE_SECONDS = 15 * 60
S3_ANONYMOUS = "Access Denied"
S3_NOT_SIGV4 = (
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
)
S3_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "key and signing method."
)
_S3_PAYLOAD_VALUES = "UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value"


class _AuthErrors(NamedTuple):
    """The codes one protocol family answers authentication failures with."""

    status: int  # of every refusal but an incomplete signature
    missing: str
    missing_message: str
    incomplete: str
    incomplete_status: int
    unknown_key: str
    mismatch: str  # also a date out of the window: "Signature expired: ..."


_AUTH_ERRORS = {
    QUERY_PROTOCOL: _AuthErrors(
        403,
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
        "IncompleteSignature",
        400,
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    ),
    JSON_PROTOCOL: _AuthErrors(
        400,
        "MissingAuthenticationTokenException",
        MISSING_AUTHENTICATION_TOKEN,
        "IncompleteSignatureException",
        400,
        "UnrecognizedClientException",
        "InvalidSignatureException",
    ),
    REST_JSON_PROTOCOL: _AuthErrors(
        403,
        "MissingAuthenticationTokenException",
        MISSING_AUTHENTICATION_TOKEN,
        "IncompleteSignatureException",
        403,
        "UnrecognizedClientException",
        "InvalidSignatureException",
    ),
}


def signing_service(headers: Iterable[tuple[str, str]], raw_query: str) -> str | None:
    """The service a request's credential scope names (the Authorization header's, else a
    presigned query's ``X-Amz-Credential``); None if it names none."""
    for name, value in headers:
        if name.lower() == "authorization":
            credential = value.partition("Credential=")[2].split(",")[0].strip()
            parts = credential.split("/")
            return parts[3] if len(parts) == 5 else None
    credential = dict(sigv4.query_pairs(raw_query)).get("X-Amz-Credential", "")
    parts = credential.split("/")
    return parts[3] if len(parts) == 5 else None


def request_protocol(headers: Iterable[tuple[str, str]], raw_query: str, body: bytes) -> str:
    """Which wire protocol a request speaks, as far as its authentication errors differ: S3
    (credential scoped to ``s3``), the JSON protocol (an ``X-Amz-Target`` header), the query
    protocol (an ``Action`` parameter, in the query or a form body), else REST-JSON; a request
    that names no service and is neither JSON nor query is S3's, as moto's server takes it."""
    received = list(headers)
    service = signing_service(received, raw_query)
    if service == "s3":
        return S3_PROTOCOL
    lower = {name.lower(): value for name, value in received}
    if "x-amz-target" in lower:
        return JSON_PROTOCOL
    form = lower.get("content-type", "").startswith("application/x-www-form-urlencoded")
    actions = [n for n, _ in sigv4.query_pairs(raw_query) if n == "Action"]
    if actions or (form and any(p.startswith(b"Action=") for p in body.split(b"&"))):
        return QUERY_PROTOCOL
    return S3_PROTOCOL if service is None else REST_JSON_PROTOCOL


def check_request_signature(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    secret_keys: Mapping[str, str] = KNOWN_CREDENTIALS,
    now: float | None = None,
) -> None:
    """Every AWS API call must be signed with SigV4 by a key AWS knows: the emulator serves a
    request only if its signature verifies (moto's server serves anything, signed or not).
    Anything is verified as its signer signed it: any service, any region, the ``Authorization``
    header or a presigned query; S3 signs its ``X-Amz-Content-Sha256`` header as the payload
    hash (the body's SHA-256, ``UNSIGNED-PAYLOAD``, or ``STREAMING-...``: the seed signature of
    an aws-chunked upload is checked, not its chunks), every other service the body's SHA-256.
    The answer is in the protocol of the service (:func:`request_protocol`).

    S3, in this order:

    1. no signature at all: an anonymous request, **403** ``AccessDenied`` ``Access Denied``
       (none of our buckets is public);
    2. a presigned URL: as :func:`check_presigned_request`;
    3. an Authorization header that is not ``AWS4-HMAC-SHA256``, or a SigV2 presigned URL
       (``AWSAccessKeyId``, ``Signature``, ``Expires``: boto3's without ``signature_version=
       "s3v4"``): **400** ``InvalidRequest`` ``The authorization mechanism you have provided is
       not supported. Please use AWS4-HMAC-SHA256.``; an Authorization header without
       Credential, SignedHeaders or Signature: **400** ``AuthorizationHeaderMalformed``; without
       X-Amz-Date: **403** ``AccessDenied`` ``AWS authentication requires a valid Date or
       x-amz-date header``;
    4. no ``X-Amz-Content-Sha256``: **400** ``InvalidRequest`` ``Missing required header for
       this request: x-amz-content-sha256``; one that is no SHA-256, ``UNSIGNED-PAYLOAD`` or
       ``STREAMING-...``: **400** ``InvalidArgument`` ``x-amz-content-sha256 must be
       UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.``;
    5. an X-Amz-Date more than 15 minutes from S3's clock: **403** ``RequestTimeTooSkewed``
       ``The difference between the request time and the current time is too large.``;
    6. an access key id it does not know: **403** ``InvalidAccessKeyId`` ``The AWS Access Key
       Id you provided does not exist in our records.``;
    7. any other signature than the one computed from the request as received: **403**
       ``SignatureDoesNotMatch`` ``The request signature we calculated does not match the
       signature you provided. Check your key and signing method.`` (with the StringToSign and
       CanonicalRequest S3 expected);
    8. a body whose SHA-256 is not the signed ``X-Amz-Content-Sha256``: **400**
       ``XAmzContentSHA256Mismatch`` ``The provided 'x-amz-content-sha256' header does not
       match what was computed.``.

    Every other service (status: query protocol / JSON protocol / REST-JSON):

    1. no signature: 403 ``MissingAuthenticationToken`` ``Request is missing Authentication
       Token`` / 400 ``MissingAuthenticationTokenException`` ``Missing Authentication Token`` /
       403 the same;
    2. a signature lacking Credential, Signature, SignedHeaders or X-Amz-Date:
       400 ``IncompleteSignature`` / 400 ``IncompleteSignatureException`` / 403 the same, with
       API Gateway's message (:func:`check_management_api_signature`);
    3. an X-Amz-Date more than 5 minutes from the receiver's clock: 403
       ``SignatureDoesNotMatch`` / 400 ``InvalidSignatureException`` / 403 the same,
       ``Signature expired: <X-Amz-Date> is now earlier than <now - 5 min> (<now> - 5 min.)``
       (or ``not yet current``); a presigned request used more than 15 minutes after it
       expired: 400 ``RequestExpired``;
    4. an access key id it does not know: 403 ``InvalidClientTokenId`` / 400
       ``UnrecognizedClientException`` / 403 the same, ``The security token included in the
       request is invalid.``;
    5. any other signature: 403 ``SignatureDoesNotMatch`` / 400 ``InvalidSignatureException`` /
       403 the same, ``The request signature we calculated does not match the signature you
       provided. Check your AWS Secret Access Key and signing method. Consult the service
       documentation for details.`` and the canonical string and string-to-sign expected.

    Not modelled: SigV2 and SigV4A, session tokens (not checked), a ``Date`` header instead of
    X-Amz-Date, the credential scope's date and region (verified as signed), public buckets and
    unsigned operations (Cognito's), the per-service windows (DynamoDB and STS allow 15
    minutes: 5 here), and the chunk signatures of a streaming upload. Not confirmed: the order
    of the steps, the message of a malformed header (sigv4.Malformed's here), ``RequestExpired``'s
    message, and S3's 8 coming after 7 (S3 can only hash a body once it has read it).

    Sources: "Authenticating Requests (AWS Signature Version 4)" (every S3 request is signed, or
    anonymous; x-amz-content-sha256 is required), https://docs.aws.amazon.com/AmazonS3/
    latest/API/sig-v4-authenticating-requests.html and .../sig-v4-header-based-auth.html; "Error
    responses" (the S3 codes), https://docs.aws.amazon.com/AmazonS3/latest/API/
    ErrorResponses.html (S3's 15 minutes: that SigV4 page's time stamp rule, and the
    MaxAllowedSkewMilliseconds 900000 S3's RequestTimeTooSkewed answers carry); the "Common
    Errors" of the query and JSON services (MissingAuthenticationToken 403, InvalidClientTokenId
    403, IncompleteSignature 400, RequestExpired 400 "more than 15 minutes after the request
    expiration date (such as for pre-signed URLs)"), https://
    docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html and https://
    docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html; the real errors: S3
    faiscadev/fakecloud#1710 and aws/aws-sdk-js#2358 (anonymous: AccessDenied),
    nukulb/s3-angular-file-upload#23, aws/aws-cli#2432 and ravsau/aws-labs#4 (not SigV4, a SigV2
    presigned URL), indix/gocd-s3-artifacts#16 and hubrick/vertx-s3-client#5 (no date, 403),
    avi-wish/aws4-signature-php#1 and aws/aws-cli#2134 (no x-amz-content-sha256),
    irods/irods_resource_plugin_s3#1833 (its value), aws/aws-cli#8662 (RequestTimeTooSkewed),
    s3tools/s3cmd#1053 (SignatureDoesNotMatch with StringToSign and CanonicalRequest, 403),
    grosskur/lua-resty-aws#2 and s3tools/s3cmd#812 (XAmzContentSHA256Mismatch, 400); query
    awsdocs/aws-lambda-developer-guide#263 (CloudFormation: MissingAuthenticationToken "Request
    is missing Authentication Token"), ministryofjustice/cloud-platform#837 (CloudFormation's
    ErrorResponse: InvalidClientTokenId, 403), aws/aws-sdk-go#194 (CloudFormation:
    SignatureDoesNotMatch with the canonical string), aws/aws-cli#6676 (STS:
    SignatureDoesNotMatch "Signature expired"); JSON aws/aws-sdk-cpp#2466 (Secrets Manager:
    MissingAuthenticationTokenException "Missing Authentication Token"), yegor256/s3auth#237
    (DynamoDB: UnrecognizedClientException, 400), remind101/logspout-kinesis#21 and
    aws/aws-sdk-php#1780 (InvalidSignatureException "Signature expired ... - 5 min.", 400),
    smithy545/aws-apps-scripts#12 (InvalidSignatureException, the mismatch); REST-JSON
    brefphp/bref#1250 (Lambda: MissingAuthenticationTokenException, 403),
    serverless/serverless#27 (Lambda: InvalidSignatureException "Signature expired", 403),
    badslug/Paw-AWSSignature4DynamicValue#5 (UnrecognizedClientException, 403).
    """
    received = list(headers)
    moment = time.time() if now is None else now
    if request_protocol(received, raw_query, body) == S3_PROTOCOL:
        _check_s3_signature(method, raw_path, raw_query, received, body, secret_keys, moment)
    else:
        _check_service_signature(method, raw_path, raw_query, received, body, secret_keys, moment)


def _check_s3_signature(
    method: str,
    raw_path: str,
    raw_query: str,
    received: list[tuple[str, str]],
    body: bytes,
    secret_keys: Mapping[str, str],
    moment: float,
) -> None:
    lower = {name.lower(): value for name, value in received}
    authorization = lower.get("authorization", "")
    if not authorization:
        parameters = dict(sigv4.query_pairs(raw_query))
        if sigv4.SIGNATURE_PARAMETER in parameters:
            check_presigned_request(method, raw_path, raw_query, received, secret_keys, moment)
            return
        if "AWSAccessKeyId" in parameters and "Signature" in parameters:  # SigV2 presigned
            raise Refused("InvalidRequest", S3_NOT_SIGV4, 400)
        raise Refused("AccessDenied", S3_ANONYMOUS, 403)
    if authorization.strip().partition(" ")[0] != sigv4.ALGORITHM:
        raise Refused("InvalidRequest", S3_NOT_SIGV4, 400)
    amz_date = lower.get("x-amz-date", "")
    try:
        claims = sigv4.header_claims(authorization, amz_date or "-")
    except sigv4.Malformed as error:
        raise Refused(
            "AuthorizationHeaderMalformed", f"The authorization header is malformed; {error}", 400
        ) from None
    try:
        signed_at = _amz_time(amz_date)
    except ValueError:
        raise Refused(
            "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", 403
        ) from None
    content_sha256 = lower.get(sigv4.CONTENT_SHA256)
    if content_sha256 is None:
        raise Refused(
            "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
        )
    literal = content_sha256 == sigv4.UNSIGNED_PAYLOAD
    literal = literal or content_sha256.startswith(sigv4.STREAMING_PREFIX)
    if not (literal or sigv4.is_sha256_hex(content_sha256)):
        raise Refused(
            "InvalidArgument",
            f"x-amz-content-sha256 must be {_S3_PAYLOAD_VALUES}.",
            400,
            {"ArgumentName": sigv4.CONTENT_SHA256, "ArgumentValue": content_sha256},
        )
    if abs(signed_at.timestamp() - moment) > S3_MAX_CLOCK_SKEW_SECONDS:
        raise Refused(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            403,
            {
                "RequestTime": amz_date,
                "ServerTime": datetime.fromtimestamp(moment, UTC).strftime(_S3_TIME),
                "MaxAllowedSkewMilliseconds": str(S3_MAX_CLOCK_SKEW_SECONDS * 1000),
            },
        )
    access_key_id = claims.credential.access_key_id
    secret = secret_keys.get(access_key_id)
    if secret is None:
        raise Refused(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
            {"AWSAccessKeyId": access_key_id},
        )
    canonical = sigv4.canonical_request(
        method,
        sigv4.canonical_uri(raw_path, "s3"),
        sigv4.canonical_query(sigv4.query_pairs(raw_query)),
        received,
        claims.signed_headers,
        content_sha256,
    )
    to_sign = sigv4.string_to_sign(claims.amz_date, claims.credential.scope, canonical)
    if not sigv4.matches(claims, sigv4.signature(secret, claims.credential, to_sign)):
        raise Refused(
            "SignatureDoesNotMatch",
            S3_SIGNATURE_MISMATCH,
            403,
            {
                "AWSAccessKeyId": access_key_id,
                "StringToSign": to_sign,
                "SignatureProvided": claims.signature,
                "CanonicalRequest": canonical,
            },
        )
    computed = hashlib.sha256(body).hexdigest()
    if not literal and content_sha256 != computed:
        raise Refused(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            400,
            {"ClientComputedContentSHA256": content_sha256, "S3ComputedContentSHA256": computed},
        )


def _check_service_signature(
    method: str,
    raw_path: str,
    raw_query: str,
    received: list[tuple[str, str]],
    body: bytes,
    secret_keys: Mapping[str, str],
    moment: float,
) -> None:
    errors = _AUTH_ERRORS[request_protocol(received, raw_query, body)]
    lower = {name.lower(): value for name, value in received}
    authorization = lower.get("authorization", "")
    pairs = sigv4.query_pairs(raw_query)
    claimed = ("X-Amz-Algorithm", "X-Amz-Credential", sigv4.SIGNATURE_PARAMETER)
    presigned = not authorization and any(name in claimed for name, _ in pairs)
    if not authorization and not presigned:
        raise Refused(errors.missing, errors.missing_message, errors.status)
    try:
        if presigned:
            claims = sigv4.query_claims(pairs)
            expires = int(claims.expires or "")
        else:
            amz_date = lower.get("x-amz-date", "")
            incomplete = _incomplete_signature(authorization, amz_date)
            if incomplete is not None:
                raise Refused(errors.incomplete, incomplete, errors.incomplete_status)
            claims = sigv4.header_claims(authorization, amz_date)
        signed_at = _amz_time(claims.amz_date)
    except ValueError as error:  # sigv4.Malformed too
        raise Refused(errors.incomplete, str(error), errors.incomplete_status) from None
    if presigned:
        if signed_at.timestamp() + expires + PRESIGNED_GRACE_SECONDS < moment:
            raise Refused("RequestExpired", "Request has expired.", 400)
    else:
        skewed = _skew_message(signed_at, datetime.fromtimestamp(moment, UTC))
        if skewed is not None:
            raise Refused(errors.mismatch, skewed, errors.status)
    secret = secret_keys.get(claims.credential.access_key_id)
    if secret is None:
        raise Refused(errors.unknown_key, INVALID_SECURITY_TOKEN, errors.status)
    service = claims.credential.service
    leave_out = sigv4.SIGNATURE_PARAMETER if presigned else None
    canonical = sigv4.canonical_request(
        method,
        sigv4.canonical_uri(raw_path, service),
        sigv4.canonical_query(pairs, leave_out=leave_out),
        received,
        claims.signed_headers,
        sigv4.payload_hash(service, received, body),
    )
    to_sign = sigv4.string_to_sign(claims.amz_date, claims.credential.scope, canonical)
    if not sigv4.matches(claims, sigv4.signature(secret, claims.credential, to_sign)):
        raise Refused(
            errors.mismatch,
            f"{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n"
            f"'{canonical}'\n\nThe String-to-Sign should have been\n'{to_sign}'\n",
            errors.status,
        )


# --- API Gateway: a regional custom domain's certificate -------------------------------------


def check_domain_certificate(
    certificate_arn: str, region: str, account_id: str, status: str | None
) -> None:
    """A REGIONAL custom domain name (``CreateDomainName``, ``UpdateDomainName``,
    ``AWS::ApiGatewayV2::DomainName``) takes only an ACM certificate of the API's own region
    ("You must provide a Region-specific ACM certificate. This certificate must be in the same
    Region as your API"), one that exists and is ISSUED; otherwise **400**
    ``BadRequestException``. ``status`` is the certificate's ACM status in ``region``, None when
    ACM has no such certificate there. moto creates the domain with any ARN at all.

    Sources: "Set up a Regional custom domain name in API Gateway",
    https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-regional-api-custom-domain-create.html;
    the errors as AWS gives them: for the region, "Invalid certificate ARN: arn:aws:acm:us-east-1
    :...:certificate/... Certificate must be in 'us-west-2'." for a REGIONAL domain, in
    amplify-education/serverless-domain-manager#49 (and serverless-components/express#10); a
    certificate that is not there, "The provided certificate does not exist." in aws/aws-cdk#3612
    and terraform-aws-modules/terraform-aws-acm#37 (REST APIs' CreateDomainName; assumed the
    same for HTTP APIs); one still being validated, "Certificate arn:aws:acm:us-west-1:...
    in account 330392339445 not yet issued" from API Gateway v2's CreateDomainName in
    hashicorp/terraform-provider-aws#32025 (a certificate in any other status than ISSUED,
    FAILED or EXPIRED say, is assumed refused in the same words: not captured).
    """
    parts = certificate_arn.split(":")
    certificate_region = parts[3] if len(parts) >= 6 and parts[2] == "acm" else ""
    if certificate_region != region:
        raise Refused(
            "BadRequestException",
            f"Invalid certificate ARN: {certificate_arn}. Certificate must be in '{region}'.",
        )
    if status is None:
        raise Refused("BadRequestException", "The provided certificate does not exist.")
    if status != "ISSUED":
        raise Refused(
            "BadRequestException",
            f"Certificate {certificate_arn} in account {account_id} not yet issued",
        )


# --- CloudFormation: parameters the template declares ----------------------------------------


def check_template_parameters(declared: Iterable[str], given: Iterable[str]) -> None:
    """``CreateStack``, ``UpdateStack`` and ``CreateChangeSet`` refuse a parameter the template
    does not declare: **400** ``ValidationError`` "Parameters: [CPU] do not exist in the
    template", naming every such parameter, and nothing changes. A template with no parameters
    at all gets "Parameter values specified for a template which does not require them." moto
    ignores them on create, and fails an update with a 500 (a ``KeyError`` in its
    ``load_parameters``, which keeps the previous template's parameters) when the previous
    template declared one that the new template does not.

    Sources: the errors as AWS gives them, in jenkinsci/pipeline-aws-plugin#133 (UpdateStack
    with a parameter the new template no longer has: "Parameters: [CPU] do not exist in the
    template (Service: AmazonCloudFormation; Status Code: 400; Error Code: ValidationError"),
    aws-samples/amazon-ec2-image-builder-samples#18 (CreateStack) and
    aws/aws-toolkit-azure-devops#75 (a template without parameters).
    """
    declared = set(declared)
    extra = [name for name in dict.fromkeys(given) if name not in declared]
    if not extra:
        return
    if not declared:
        raise Refused(
            "ValidationError",
            "Parameter values specified for a template which does not require them.",
        )
    raise Refused(
        "ValidationError", f"Parameters: [{', '.join(extra)}] do not exist in the template"
    )


# --- S3: the global endpoint names only us-east-1's buckets at once ---------------------------

S3_GLOBAL_ENDPOINT = "s3.amazonaws.com"
S3_GLOBAL_ENDPOINT_REGION = "us-east-1"
# The aws partition's regions launched before 20 March 2019 ("default Regions", enabled in every
# account). Closed for good: every region launched since is an opt-in region.
REGIONS_BEFORE_MARCH_2019 = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-north-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-south-1",
    }
)
# A new bucket's name takes "up to 24 hours" to reach every region.
BUCKET_NAME_PROPAGATION_SECONDS = 24 * 60 * 60
TEMPORARY_REDIRECT = (
    "Please re-send this request to the specified temporary endpoint. Continue to use the "
    "original request endpoint for future requests."
)


def global_endpoint_bucket(host: str, raw_path: str) -> str | None:
    """The bucket a request to S3's global endpoint names: ``<bucket>.s3.amazonaws.com``
    (virtual-hosted style) or the path's first segment on ``s3.amazonaws.com`` (path style).
    None for any other host (a regional one, the emulator's own address)."""
    name = host.strip().lower()
    if name.startswith("["):
        return None  # an IPv6 literal
    name = name.partition(":")[0].rstrip(".")
    if name == S3_GLOBAL_ENDPOINT:
        return raw_path.lstrip("/").partition("/")[0] or None
    suffix = f".{S3_GLOBAL_ENDPOINT}"
    if name.endswith(suffix) and len(name) > len(suffix):
        return name[: -len(suffix)]
    return None


def regional_endpoint(bucket: str, region: str) -> str:
    """The bucket's regional virtual host, as S3 names it in a redirect."""
    return f"{bucket}.s3.{region}.amazonaws.com"


def check_presigned_endpoint(bucket: str, region: str, bucket_age_seconds: float) -> None:
    """A request addressed to S3's global endpoint (``global_endpoint_bucket``) for ``bucket``,
    which is in ``region`` and was created ``bucket_age_seconds`` ago:

    - in us-east-1, the global endpoint's own region: served;
    - in a region launched after 20 March 2019 (not in ``REGIONS_BEFORE_MARCH_2019``): **400**
      ``IllegalLocationConstraintException`` "The <region> location constraint is incompatible
      for the region specific endpoint this request was sent to.", however old the bucket: S3
      does not redirect there;
    - in another region, while the bucket's name is still propagating (under
      ``BUCKET_NAME_PROPAGATION_SECONDS``): **307** ``TemporaryRedirect`` with ``Bucket`` and
      ``Endpoint`` (``<bucket>.s3.<region>.amazonaws.com``), a ``Location`` to the same request
      there and ``x-amz-bucket-region``. A client that follows it with a presigned URL fails:
      the URL signed the global host (``SignatureDoesNotMatch``);
    - later: served (DNS sends the global name to the bucket's region).

    Both refusals are S3's; which one depends on the region, so both are modelled. Not
    confirmed: the exact age at which the redirects stop (S3 says "up to 24 hours"; the whole
    day is taken), and whether S3 checks this before the signature (it is checked first here).
    S3 answers every request so, not only presigned ones; the emulator checks presigned ones.

    Sources: "Request routing" (temporary redirects; "For all Regions that launched after March
    20, 2019, if a request arrives at the wrong Amazon S3 location, Amazon S3 returns an HTTP
    400 Bad Request error"), https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingRouting.html;
    the AWS Knowledge Center's article on S3's 307 Temporary Redirect (up to 24 hours for a new
    bucket's name to reach every region; send requests to the bucket's regional endpoint),
    https://repost.aws/knowledge-center/s3-http-307-response; "Virtual hosting of general
    purpose buckets" (``bucket-name.s3.region-code.amazonaws.com``),
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html; "Enable or disable
    AWS Regions in your account" (regions launched before 20 March 2019 are enabled by default,
    later ones are opt-in), https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html.
    The answers as S3 gives them: boto/boto3#2728 and #3055, humanmade/S3-Uploads#406,
    s3fs-fuse/s3fs-fuse#1712 (IllegalLocationConstraintException, af-south-1 and ap-east-1);
    aws/aws-cli#2424 (a presigned PUT to the global host of a us-west-2 bucket: 307, and the
    redirected PUT fails its signature), ansible-collections/community.aws#637 (the 307 of a
    new eu-west-2 bucket, its Location and x-amz-bucket-region), erlcloud/erlcloud#8 (the
    TemporaryRedirect document: Message, Bucket, Endpoint); boto/boto3#1982 and #2989
    (botocore presigns on the global host).
    """
    if region == S3_GLOBAL_ENDPOINT_REGION:
        return
    if region not in REGIONS_BEFORE_MARCH_2019:
        raise Refused(
            "IllegalLocationConstraintException",
            f"The {region} location constraint is incompatible for the region specific endpoint "
            "this request was sent to.",
        )
    if bucket_age_seconds < BUCKET_NAME_PROPAGATION_SECONDS:
        raise Refused(
            "TemporaryRedirect",
            TEMPORARY_REDIRECT,
            307,
            {"Bucket": bucket, "Endpoint": regional_endpoint(bucket, region)},
        )


# --- Lambda: API request rates ---------------------------------------------------------------

# Requests per second per account and region, none of them adjustable.
LAMBDA_GET_FUNCTION_PER_SECOND = 100
LAMBDA_GET_POLICY_PER_SECOND = 15
LAMBDA_CONTROL_PLANE_PER_SECOND = 15  # every other control-plane operation, together
# Invocations have their own quotas, from the concurrency: not counted here.
LAMBDA_INVOCATIONS = frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"})


def lambda_request_quota(operation: str) -> tuple[str, int] | None:
    """The quota a Lambda API operation counts against, (its name, requests per second); None
    for an invocation."""
    if operation in LAMBDA_INVOCATIONS:
        return None
    if operation == "GetFunction":
        return "GetFunction", LAMBDA_GET_FUNCTION_PER_SECOND
    if operation == "GetPolicy":
        return "GetPolicy", LAMBDA_GET_POLICY_PER_SECOND
    return "control plane", LAMBDA_CONTROL_PLANE_PER_SECOND


def check_lambda_request_rate(operation: str, accepted_in_last_second: int) -> None:
    """Lambda throttles its API per account and region: ``GetFunction`` at 100 requests per
    second, ``GetPolicy`` at 15, and every other control-plane operation (all but the
    invocations: ``GetFunctionConfiguration``, ``UpdateFunctionCode``, ``ListFunctions``...)
    at 15 together. Beyond that: **429** ``TooManyRequestsException`` "Rate exceeded".
    ``accepted_in_last_second`` is how many requests of the operation's quota were answered in
    the second before this one. moto never throttles, so a tool that polls
    GetFunctionConfiguration for five functions at 10/s (50/s) passes there and is throttled on
    AWS.

    Sources: "Lambda quotas", section "API requests" ("GetFunction API requests: 100 requests
    per second", "GetPolicy API requests: 15 requests per second", "Remainder of the control
    plane API requests (excludes invocation, GetFunction, and GetPolicy requests): 15 requests
    per second"), https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html; the
    error as AWS gives it for a control-plane call, "An error occurred
    (TooManyRequestsException) when calling the ListVersionsByFunction operation: Rate
    exceeded", in indeni/dragoneye#41, and its status, "Status Code: 429; Error Code:
    TooManyRequestsException", in aws-samples/amazon-textract-idp-cdk-constructs#94. The window
    (a sliding second) is the emulator's choice: AWS does not say how it counts.
    """
    quota = lambda_request_quota(operation)
    if quota is not None and accepted_in_last_second >= quota[1]:
        raise Refused("TooManyRequestsException", "Rate exceeded", 429)


# --- CloudWatch Logs: a metric filter reads an existing log group ----------------------------


def check_metric_filter_log_group(log_group_exists: bool) -> None:
    """``PutMetricFilter`` (``AWS::Logs::MetricFilter``) on a log group that does not exist is
    refused: **400** ``ResourceNotFoundException`` "The specified log group does not exist.";
    CloudFormation fails the filter and rolls the stack back, and a retry fails the same way
    until the group is made (a filter must be declared after, or with, its group). moto
    creates the filter anyway.

    Sources: the error from CloudFormation in gilt/s3-sftp-bridge#2 ("CREATE_FAILED
    AWS::Logs::MetricFilter ... The specified log group does not exist.") and
    aws-solutions-library-samples/guidance-for-claude-code-with-amazon-bedrock#555 ("Service:
    CloudWatchLogs, Status Code: 400; HandlerErrorCode: NotFound"); from the API in
    DataBiosphere/azul#6252 ("ResourceNotFoundException: The specified log group does not
    exist."); ``AWS::Logs::MetricFilter``, https://docs.aws.amazon.com/AWSCloudFormation/latest/
    TemplateReference/aws-resource-logs-metricfilter.html.
    """
    if not log_group_exists:
        raise Refused("ResourceNotFoundException", "The specified log group does not exist.")


# --- API Gateway WebSocket APIs: IAM on $connect, and connections not yet established --------

IAM_CONNECT_REFUSED = "Forbidden"


def check_iam_connect_signature(
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    secret_keys: Mapping[str, str] = KNOWN_CREDENTIALS,
    now: float | None = None,
) -> None:
    """``$connect`` with ``AuthorizationType: AWS_IAM`` refuses an unsigned or badly signed
    upgrade (403): the client signs its GET upgrade request with SigV4 for the service
    ``execute-api`` (an ``Authorization`` header over the request line and the headers it names,
    an empty body), and API Gateway verifies it as it verifies any IAM-authorized call
    (:func:`check_management_api_signature`'s steps: missing, incomplete, wrong service, out of
    the 5-minute window, unknown key, mismatch). Every refusal is **403**; no integration runs
    and no connection is made. The caller's identity policy must then allow
    ``execute-api:Invoke`` on ``arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/$connect``
    (the WebSocket route ARN format); the local gateway checks the signature against the
    emulator's keys only, not the signer's policy (every local key is the emulator's one user).
    IAM is checked on ``$connect`` only: later messages on the connection are not signed.

    Not modelled: a presigned upgrade (the signature in the query string, as browsers must sign):
    refused here as unsigned. Not confirmed: the body of the 403 (``{"message": "Forbidden"}``
    here, its ``code`` the IAM error's).

    Sources: "Control access to WebSocket APIs with IAM authorization" (sign with SigV4; the
    route ARN ``api-id/stage-name/route-key``), https://docs.aws.amazon.com/apigateway/latest/
    developerguide/apigateway-websocket-control-access-iam.html; aws-samples/
    serverless-patterns#1144 (an unsigned ``wscat -c`` to an IAM $connect is refused 403),
    serverless/serverless#6149 (403 once AWS_IAM is deployed); the gist
    serverlessunicorn/9c7397c4a291398022b84a91d34ae051 (botocore SigV4Auth on the GET, the
    Authorization header added to the upgrade); awsdocs/amazon-api-gateway-developer-guide#121
    (IAM policies apply to $connect, not to later routes).
    """
    try:
        check_management_api_signature("GET", raw_path, raw_query, headers, b"", secret_keys, now)
    except Refused as refused:
        raise Refused(refused.code, IAM_CONNECT_REFUSED, 403) from None


def check_connection_established(established: bool) -> None:
    """Posting to (or getting, or deleting) a connection whose ``$connect`` has not returned
    answers **410** ``GoneException``: a connection id exists from the start of ``$connect``
    (its integration sees it), but it is not established until ``$connect`` has accepted it and
    the 101 has gone out; until then, and once it is closed, @connections answers as for an
    unknown id. Same on every WebSocket API (the agents' and the internal answers API): a
    client learns its id only from a route that tells it once it is connected (``whoami``).

    Sources: "How do I troubleshoot 410 GoneException errors with Amazon API Gateway WebSocket
    APIs?" ("A message was posted to the WebSocket API before the connection was established";
    don't post from the $connect integration), https://repost.aws/knowledge-center/
    410-gone-api-gateway.
    """
    if not established:
        raise Refused("GoneException", "The connection with the provided id no longer exists", 410)


# --- API Gateway REST APIs: a Lambda proxy integration that streams (ResponseTransferMode) ----

STREAM_DELIMITER = b"\0" * 8
_STREAM_METADATA_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "cookies"})


def check_stream_prelude(head: bytes, ended: bool) -> tuple[dict[str, object], int] | None:
    """A Lambda proxy integration with ``ResponseTransferMode: STREAM`` starts its response only
    once the function's stream has given API Gateway valid metadata and the delimiter: a JSON
    object with at most ``statusCode``, ``headers`` (single values), ``multiValueHeaders`` and
    ``cookies``, then 8 null bytes, which "must appear within the first 16KB of stream data".
    A function whose output does not adhere gets **500** from API Gateway ("API Gateway invokes
    your Lambda function and return a 500 error response"); nothing of its stream reaches the
    caller. ``head`` is the stream so far: this returns None while the delimiter may still come,
    else the metadata and how many bytes it took (the body starts there); ``ended``: the stream
    is over. Keys left out are allowed ("can be unspecified"): the local gateway answers 200
    with no extra headers then (the default status is not stated on the page).

    Not confirmed: the 500's body (REST APIs' default ``{"message": "Internal server error"}``
    is what the local gateway gives).

    Source: "Set up a Lambda proxy integration with payload response streaming in API Gateway",
    https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode-lambda.html
    (the format and its table of supported combinations).
    """
    limit = _limits().STREAM_PRELUDE_MAX_BYTES
    at = head.find(STREAM_DELIMITER, 0, limit)
    if at < 0:
        if ended or len(head) >= limit:
            why = "ended" if ended and len(head) < limit else f"has no delimiter in {limit} bytes"
            raise _bad_stream(f"the stream {why}: no metadata and delimiter")
        return None
    try:
        metadata = json.loads(head[:at])
    except ValueError:
        raise _bad_stream("the metadata before the delimiter is not JSON") from None
    if not isinstance(metadata, dict):
        raise _bad_stream("the metadata is not a JSON object")
    unknown = sorted(set(metadata) - _STREAM_METADATA_KEYS)
    if unknown:
        raise _bad_stream(f"the metadata has keys API Gateway does not support: {unknown}")
    status = metadata.get("statusCode", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise _bad_stream(f"statusCode {status!r} is not an HTTP status")
    headers = metadata.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise _bad_stream("headers must map names to single string values")
    multi = metadata.get("multiValueHeaders", {})
    if not isinstance(multi, dict) or not all(
        isinstance(v, list) and all(isinstance(i, str) for i in v) for v in multi.values()
    ):
        raise _bad_stream("multiValueHeaders must map names to lists of strings")
    cookies = metadata.get("cookies", [])
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise _bad_stream("cookies must be a list of strings")
    return metadata, at + len(STREAM_DELIMITER)


def _bad_stream(why: str) -> Refused:
    return Refused("StreamMetadataInvalid", f"Internal server error ({why})", 500)


# --- AWS WAF: rate-based rules ----------------------------------------------------------------

# A rate-based rule's limit, per aggregation instance and evaluation window ("The lowest limit
# setting allowed is 10", since August 2024; it was 100), and the windows it may look back over.
WAF_RATE_LIMIT_MIN = 10
WAF_RATE_LIMIT_MAX = 2_000_000_000
WAF_EVALUATION_WINDOWS_SECONDS = (60, 120, 300, 600)
WAF_DEFAULT_EVALUATION_WINDOW_SECONDS = 300
MODEL_VALIDATION = "ModelValidation"  # CloudFormation's own schema check, before any service


def _whole(value: object) -> int | None:
    """A template number (an int, or digits as a parameter gives them), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def check_rate_based_rules(rules: object, cloudformation: bool) -> None:
    """A web ACL's rate-based rule whose ``Limit`` is outside 10..2,000,000,000 or whose
    ``EvaluationWindowSec`` is not 60, 120, 300 or 600 is refused (CreateWebACL, UpdateWebACL,
    ``AWS::WAFv2::WebACL``); moto creates it with any numbers.

    Through CloudFormation the resource's schema refuses it before WAF is called: the resource
    fails with ``Resource handler returned message: "Model validation failed
    (#/Rules/<i>/Statement/RateBasedStatement/Limit: failed validation constraint for keyword
    [minimum])" (RequestToken: ..., HandlerErrorCode: InvalidRequest)`` (``maximum`` above the
    top, ``enum`` for a window; the schema's bounds are the API's: RateLimit minimum 10, maximum
    2000000000, EvaluationWindowSec enum [60, 120, 300, 600], in the AWS::WAFv2::WebACL schema
    cfn-lint 1.58 carries). Through the API it is **400** ``WAFInvalidParameterException``
    ``Error reason: ..., field: RATE_BASED_STATEMENT, parameter: <value>`` (the format of WAF's
    parameter errors; the reason's words for these two fields are not captured: assumed).
    boto3 itself refuses a Limit under 10 before sending (botocore's wafv2 model: RateLimit
    min 10, max 2000000000); it has no bounds for the window.

    Sources: "Rate-based rule high-level settings in AWS WAF" (the lowest limit is 10; valid
    windows 60, 120, 300, 600, default 300), https://docs.aws.amazon.com/waf/latest/
    developerguide/waf-rule-statement-type-rate-based-high-level-settings.html;
    aws-cloudformation/cloudformation-coverage-roadmap#2160 and aws-cloudformation/cfn-lint#3738
    (the model validation message, when the schema's minimum was still 100); aws/aws-cli#5015
    (a WAFInvalidParameterException on a rate-based statement: "Error reason: ..., field:
    RATE_BASED_STATEMENT, parameter: RateBasedStatement").
    """
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        statement = (rule.get("Statement") or {}) if isinstance(rule, dict) else {}
        rate = statement.get("RateBasedStatement") if isinstance(statement, dict) else None
        if not isinstance(rate, dict):
            continue
        limit = _whole(rate.get("Limit"))
        window = rate.get("EvaluationWindowSec", WAF_DEFAULT_EVALUATION_WINDOW_SECONDS)
        problem = None
        if limit is None or limit < WAF_RATE_LIMIT_MIN:
            problem = ("Limit", rate.get("Limit"), "minimum")
        elif limit > WAF_RATE_LIMIT_MAX:
            problem = ("Limit", rate.get("Limit"), "maximum")
        elif _whole(window) not in WAF_EVALUATION_WINDOWS_SECONDS:
            problem = ("EvaluationWindowSec", window, "enum")
        if problem is None:
            continue
        field, value, keyword = problem
        if cloudformation:
            raise Refused(
                MODEL_VALIDATION,
                f"Model validation failed (#/Rules/{index}/Statement/RateBasedStatement/{field}: "
                f"failed validation constraint for keyword [{keyword}])",
            )
        raise Refused(
            "WAFInvalidParameterException",
            "Error reason: The parameter contains formatting that is not valid., field: "
            f"RATE_BASED_STATEMENT, parameter: {value}",
        )


WAF_RATE_LIMITED = "RateLimited"


def check_rate_based_rule(requests_in_window: int, limit: int) -> None:
    """A rate-based rule applies its action (here: the web ACL's Block, with its custom
    response) to a request of an aggregation instance (one client IP, one Host value...) whose
    request count over the evaluation window, this request included, is over the rule's
    ``Limit``; at or under it the rule does not match and the next rule, then the web ACL's
    default action, decides. Requests the rule blocks count too, so a client that keeps
    sending stays blocked until its rate over the window drops under the limit. A request
    without a component of the aggregation key (no ``Host`` for a Host key) is not counted or
    limited by that rule. Raises :class:`Refused` (``RateLimited``) when the action applies.

    On AWS the count is an estimate ("an algorithm that gives more importance to more recent
    requests"), checked "frequently" (about every 10 s, the SDK docs say), so a flood can pass
    for some seconds, "usually" under 30, before it is limited, and stays limited as long after
    it drops. The local gateway counts exactly, over a sliding window, and reacts at once: a
    test of it is exact where AWS is near.

    Sources: "Rate-based rule high-level settings in AWS WAF" (window, limit, "when this limit
    is breached, AWS WAF applies the rule action setting to additional requests"),
    https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html;
    "Applying rate limiting to requests in AWS WAF" (a request is limited when its aggregation
    instance's count "is currently over the rule's limit"),
    https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-request-limiting.html;
    "Rate-based rule caveats in AWS WAF" (the estimate and its delays),
    https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-caveats.html;
    API_RateBasedStatementCustomKey ("Web requests that are missing any of the components
    specified in the aggregation keys are omitted from the rate-based rule evaluation").
    """
    if requests_in_window > limit:
        raise Refused(
            WAF_RATE_LIMITED,
            f"{requests_in_window} requests in the window, over the rule's limit of {limit}",
            429,
        )


# A REST API's own answer when its Lambda proxy integration fails or answers something it cannot
# use: status 502, body {"message": "Internal server error"}, x-amzn-errortype
# InternalServerErrorException (not the HTTP API's 500 "Internal Server Error").
REST_INTEGRATION_FAILED = "Internal server error"


# A POST policy's form fields S3 does not look for in its conditions ("POST Policy",
# Conditions): the signature, the file, the policy itself, and any x-ignore- field.
POST_UNCONDITIONED_FIELDS = ("x-amz-signature", "file", "policy")
POST_POLICY_DENIED = "Invalid according to Policy"


def check_post_policy(
    bucket: str,
    fields: Mapping[str, str],
    file_size: int,
    secret_keys: Mapping[str, str],
    now: float | None = None,
) -> None:
    """An S3 POST (a browser-based form upload; ``fields`` are the form's fields but the file,
    names lowercased; ``file_size`` the file's bytes) is stored only if S3 accepts its signed
    policy, checked in this order:

    1. the SigV4 fields: ``x-amz-algorithm`` AWS4-HMAC-SHA256, an ``x-amz-credential`` scoped to
       s3, ``x-amz-date``, ``policy`` and ``x-amz-signature``: else **400** ``InvalidArgument``
       (the message here is not S3's own); an access key id it does not know: **403**
       ``InvalidAccessKeyId``; any signature but HMAC-SHA256 of the base64 policy with the
       date's signing key: **403** ``SignatureDoesNotMatch``;
    2. a policy that is not base64 JSON with ``expiration`` and ``conditions``: **400**
       ``InvalidPolicyDocument``;
    3. its ``expiration`` passed: **403** ``AccessDenied`` ``Invalid according to Policy:
       Policy expired.``;
    4. each condition, in order: ``{"name": value}`` and ``["eq", "$name", value]`` exact,
       ``["starts-with", "$name", prefix]``, on the form field (``bucket`` is the URL's), names
       case-insensitive: else **403** ``AccessDenied`` ``Invalid according to Policy: Policy
       Condition failed: [...]``; ``["content-length-range", min, max]`` on the file: **400**
       ``EntityTooLarge`` or ``EntityTooSmall``;
    5. a form field that no condition names (but ``x-amz-signature``, ``file``, ``policy`` and
       ``x-ignore-*``): **403** ``AccessDenied`` ``Invalid according to Policy: Extra input
       fields: <name>``.

    Sources: "POST Policy" (expiration, conditions, their matching types, every field but those
    named in a condition), https://docs.aws.amazon.com/AmazonS3/latest/API/
    sigv4-HTTPPOSTConstructPolicy.html; "Authenticating Requests in Browser-Based Uploads Using
    POST (AWS Signature Version 4)" (the policy is what is signed),
    https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-UsingHTTPPOST.html; "Error responses"
    (EntityTooLarge, EntityTooSmall, InvalidPolicyDocument), https://docs.aws.amazon.com/
    AmazonS3/latest/API/ErrorResponses.html; the real errors: awsdocs/aws-doc-sdk-examples#5490
    ("Invalid according to Policy: Policy Condition failed: ["eq", "$acl", "public-read"]"),
    aws/aws-sdk-js#1514 (the same for $X-Amz-Date), aws/aws-sdk-php#3292 ("Invalid according
    to Policy: Extra input fields: bucket"). The order of 2 to 5 and the message for an expired
    policy are not confirmed against AWS.
    """
    missing = [
        name
        for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "policy")
        if not fields.get(name)
    ] + ([] if fields.get("x-amz-signature") else ["x-amz-signature"])
    if missing or fields["x-amz-algorithm"] != sigv4.ALGORITHM:
        raise Refused(
            "InvalidArgument",
            f"a POST upload needs {', '.join(missing) or 'x-amz-algorithm ' + sigv4.ALGORITHM}",
        )
    try:
        credential = sigv4.Credential.parse(fields["x-amz-credential"])
    except sigv4.Malformed as error:
        raise Refused("InvalidArgument", str(error)) from None
    secret = secret_keys.get(credential.access_key_id)
    if secret is None or credential.service != "s3":
        raise Refused(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
        )
    expected = sigv4.signature(secret, credential, fields["policy"])
    if not hmac.compare_digest(expected, fields["x-amz-signature"]):
        raise Refused(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            403,
        )
    try:
        policy = json.loads(base64.b64decode(fields["policy"], validate=True))
        expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        conditions = list(policy["conditions"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise Refused(
            "InvalidPolicyDocument",
            "The content of the form does not meet the conditions specified in the policy "
            "document.",
        ) from None
    if expiration.timestamp() <= (time.time() if now is None else now):
        raise Refused("AccessDenied", f"{POST_POLICY_DENIED}: Policy expired.", 403)
    values = {**{k.lower(): v for k, v in fields.items()}, "bucket": bucket}
    named: set[str] = set()
    for condition in conditions:
        if isinstance(condition, dict) and len(condition) == 1:
            ((name, value),) = condition.items()
            condition = ["eq", f"${name}", value]
        if isinstance(condition, list) and condition and condition[0] == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if file_size > high:
                raise Refused(
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                    details={"ProposedSize": str(file_size), "MaxSizeAllowed": str(high)},
                )
            if file_size < low:
                raise Refused(
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                    details={"ProposedSize": str(file_size), "MinSizeAllowed": str(low)},
                )
            continue
        if not (isinstance(condition, list) and len(condition) == 3):
            raise Refused(
                "InvalidPolicyDocument",
                "The content of the form does not meet the conditions specified in the policy "
                "document.",
            )
        kind, field, expected_value = condition
        name = str(field).removeprefix("$").lower()
        named.add(name)
        actual = values.get(name, "")
        held = (
            actual == expected_value
            if kind == "eq"
            else kind == "starts-with" and actual.startswith(str(expected_value))
        )
        if not held:
            shown = json.dumps([kind, field, expected_value])
            raise Refused(
                "AccessDenied", f"{POST_POLICY_DENIED}: Policy Condition failed: {shown}", 403
            )
    for name in fields:
        lowered = name.lower()
        if lowered in POST_UNCONDITIONED_FIELDS or lowered.startswith("x-ignore-"):
            continue
        if lowered not in named:
            raise Refused(
                "AccessDenied", f"{POST_POLICY_DENIED}: Extra input fields: {lowered}", 403
            )


# --- CloudWatch dashboards ------------------------------------------------------------------

DASHBOARD_INVALID = "InvalidParameterInput"
DASHBOARD_METRICS_SHAPE = (
    'Field "metrics" has to be an array of array of strings, with an optional metricRenderer '
    "object as last element"
)


def check_dashboard_body(body: str) -> None:
    """``PutDashboard`` (``AWS::CloudWatch::Dashboard``) validates the body: it is a JSON object
    with a ``widgets`` array, and each metric widget's ``metrics`` is an array of arrays of
    strings, an optional rendering object last. A body that breaks this is refused: **400**
    ``InvalidParameterInput`` "The dashboard body is invalid, there are N validation errors:"
    and a JSON list of ``{"dataPath", "message"}``. moto stores any body it gets through
    CloudFormation.

    Sources: "Dashboard Body Structure and Syntax" ("The dashboard must include a widgets array";
    each metric "[Namespace, MetricName, [{DimensionName,DimensionValue}...] {Rendering
    Properties Object}]"),
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Dashboard-Body-Structure.html;
    the error as AWS gives it, in pulumi/pulumi#13059 ("InvalidParameterInput: The dashboard
    body is invalid, there are 8 validation errors: ... "dataPath":
    "/widgets/0/properties/metrics/0", "message": "Should be array" ... Field "metrics" has to
    be an array of array of strings, with an optional metricRenderer object as last element").
    The wording for a body that is not JSON, or has no ``widgets``, was not found; those use
    the same code and form.
    """
    errors: list[dict[str, str]] = []
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        errors.append({"dataPath": "", "message": "Should be object"})
    elif not isinstance(document.get("widgets"), list):
        errors.append({"dataPath": "", "message": "Should have required property 'widgets'"})
    else:
        for index, widget in enumerate(document["widgets"]):
            properties = widget.get("properties") if isinstance(widget, dict) else None
            if not isinstance(widget, dict) or widget.get("type") != "metric":
                continue
            metrics = properties.get("metrics", []) if isinstance(properties, dict) else None
            for line, metric in enumerate(metrics if isinstance(metrics, list) else [None]):
                if not _dashboard_metric_line(metric):
                    path = f"/widgets/{index}/properties/metrics/{line}"
                    errors.append({"dataPath": path, "message": "Should be array"})
                    errors.append({"dataPath": path, "message": DASHBOARD_METRICS_SHAPE})
    if errors:
        raise Refused(
            DASHBOARD_INVALID,
            f"The dashboard body is invalid, there are {len(errors)} validation errors:\n"
            + json.dumps(errors, indent=2),
        )


def _dashboard_metric_line(metric: object) -> bool:
    if not isinstance(metric, list) or not metric:
        return False
    *names, last = metric
    if isinstance(last, dict):
        return bool(names) and all(isinstance(name, str) for name in names)
    return all(isinstance(name, str) for name in metric)
