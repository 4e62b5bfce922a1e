"""``!preflight``: the account's prerequisites, checked before any stack of the environment is
touched (``before_create``, ``before_update`` and ``before_create_change_set`` of every stack).

What a fresh account lacks makes a launch fail half-way on AWS, after stacks were created and
rolled back. Checked here, each failure is one line that names the fix:
- the API Gateway CloudWatch role (account setting ``cloudwatchRoleArn``), which a WebSocket
  stage with access logs needs, unless this launch creates it (the argument names the account
  stack the routes stack depends on, which creates it only in its own region and account: its
  region and profile must be the environment's);
- the account's concurrency: the environment's reservations must leave the unreserved minimum;
- the custom domain's certificate, where one is given (``certificate_arn``; with only a hosted
  zone the domain stack requests it): exists, ISSUED, in the stack's region, covers
  ``*.<domain>``;
- the hosted zone, where one is configured: exists, is public (a private zone's records resolve
  only inside its VPCs) and holds the domain;
- the custom domain is on the Public Suffix List (a warning: without it, browsers treat all
  tunnels as one site, and a page in one may set cookies for all of them);
- each function named in ``existing_functions``: it exists, is in the stack's region, and
  carries the handler contract, the tag ``tunnel-protocol`` (tunnel_shared.protocol).

It runs once per process and environment (every stack's hook asks; the first one checks, the
others reuse its verdict), so a launch pays for it once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sceptre.exceptions import SceptreException
from sceptre.hooks import Hook
from tunnel_shared.names import resource_name
from tunnel_shared.protocol import PROTOCOL_TAG, PROTOCOL_VERSION

from aws_fidelity import rules
from tunnel_infra import public_suffix
from tunnel_infra.config_errors import stack_settings
from tunnel_infra.settings import CustomDomain, ExistingFunction, Settings

_verdicts: dict[tuple[str, str, str], PreflightError | None] = {}
_lock = threading.Lock()


class PreflightError(SceptreException):
    """The account lacks a prerequisite; nothing was changed."""


@dataclass(frozen=True)
class Finding:
    problem: str
    fix: str

    def line(self, environment: str) -> str:
        return f"preflight {environment}: {self.problem}; {self.fix}"


Call = Any  # (service, command, kwargs) -> response, as the stack's connection manager calls


@dataclass(frozen=True)
class Placement:
    """Where a stack is launched: its region and its profile (None: the default credentials)."""

    region: str
    profile: str | None = None

    def __str__(self) -> str:
        return f"{self.region} with profile {self.profile or '(default)'}"


@dataclass(frozen=True)
class AccountStack:
    """The account stack that creates the CloudWatch role, and where it is launched."""

    path: str  # as the hook's argument names it: account/api-gateway-logging.yaml
    placement: Placement


class Preflight(Hook):
    def run(self) -> None:
        # A bad setting: one line naming the file and line that set it (it runs before any
        # template on launch, so the template handler would come too late).
        settings = stack_settings(self.stack)
        key = (settings.environment, str(self.stack.region), str(self.stack.profile))
        with _lock:
            if key not in _verdicts:
                _verdicts[key] = self._check(settings)
            verdict = _verdicts[key]
        if verdict is not None:
            raise verdict

    def _check(self, settings: Settings) -> PreflightError | None:
        argument = self.argument if isinstance(self.argument, dict) else {}
        role_stack = argument.get("cloudwatch_role_stack")
        try:
            account_stack = self._account_stack(str(role_stack)) if role_stack else None
        except SceptreException as error:
            return PreflightError(
                f"preflight {settings.environment}: cannot read cloudwatch_role_stack "
                f"{role_stack} ({error}); name a stack file under config/"
            )
        try:
            findings = check_account(
                self._call,
                settings,
                region=str(self.stack.region),
                creates_cloudwatch_role=account_stack is not None,
                placement=Placement(str(self.stack.region), self.stack.profile or None),
                account_stack=account_stack,
            )
        except (BotoCoreError, ClientError) as error:
            return PreflightError(
                f"preflight {settings.environment}: cannot read the account's settings "
                f"({_describe(error)}); check your credentials and region"
            )
        for warning in findings.warnings:
            self.logger.warning(warning.line(settings.environment))
        if findings.failures:
            return PreflightError(
                "\n".join(f.line(settings.environment) for f in findings.failures)
            )
        self.logger.info(f"preflight {settings.environment}: the account is ready")
        return None

    def _call(self, service: str, command: str, kwargs: dict[str, Any] | None = None) -> Any:
        return self.stack.connection_manager.call(service, command, kwargs or {})

    def _account_stack(self, path: str) -> AccountStack:
        """The named stack's region and profile, as Sceptre's config reader resolves them
        (inherited from its stack group configs), without calling AWS."""
        from sceptre.config.reader import ConfigReader
        from sceptre.context import SceptreContext

        config = self.stack.stack_group_config
        context = SceptreContext(
            project_path=str(config.get("project_path", ".")),
            command_path=path,
            user_variables=dict(config.get("user_variables") or {}),
        )
        stacks, _ = ConfigReader(context).construct_stacks()
        name = path.removesuffix(".yaml").removesuffix(".yml")
        found = next((stack for stack in stacks if stack.name == name), None)
        if found is None:
            raise SceptreException(f"no stack {name} in config/")
        return AccountStack(path, Placement(str(found.region), found.profile or None))


@dataclass(frozen=True)
class Findings:
    failures: list[Finding]
    warnings: list[Finding]


def check_account(
    call: Call,
    settings: Settings,
    region: str,
    creates_cloudwatch_role: bool,
    placement: Placement | None = None,
    account_stack: AccountStack | None = None,
) -> Findings:
    """Everything the environment needs of the account, as findings (empty: ready).

    ``placement`` is where the environment is launched, ``account_stack`` the stack that
    creates the CloudWatch role (when it is given, ``creates_cloudwatch_role`` holds only where
    the two are launched alike)."""
    failures: list[Finding] = []
    warnings: list[Finding] = []
    here = placement or Placement(region)
    elsewhere = account_stack if account_stack and account_stack.placement != here else None
    failures += _cloudwatch_role(
        call, creates_cloudwatch_role and elsewhere is None, settings.environment, here, elsewhere
    )
    concurrency_failures, concurrency_warnings = _concurrency(call, settings)
    failures += concurrency_failures
    warnings += concurrency_warnings
    domain = settings.custom_domain
    if domain.enabled:
        # A certificate the domain stack requests is checked by CloudFormation as it validates.
        if domain.certificate_arn:
            failures += _certificate(call, domain, region)
        if domain.hosted_zone_id:
            failures += _hosted_zone(call, domain)
        warnings += _public_suffix(domain)
    for function, existing in sorted(settings.existing_functions.items()):
        failures += _existing_function(call, settings.environment, function, existing, region)
    return Findings(failures, warnings)


def _cloudwatch_role(
    call: Call,
    creates_it: bool,
    environment: str,
    here: Placement,
    elsewhere: AccountStack | None,
) -> list[Finding]:
    role_arn = call("apigateway", "get_account").get("cloudwatchRoleArn")
    if not role_arn:
        if creates_it:
            return []  # the account stack comes first: the routes stack depends on it
        if elsewhere is not None:
            # The role is an account setting per account and region: created elsewhere, it is
            # not here, and the routes stack would fail half-way through the launch.
            return [
                Finding(
                    f"API Gateway has no CloudWatch role in {here}, and {elsewhere.path} "
                    f"creates it in {elsewhere.placement}",
                    f"give {environment} an account stack of its own region and profile (a copy "
                    f"of config/account/ whose config.yaml sets region: {here.region}"
                    + (f" and profile: {here.profile}" if here.profile else "")
                    + f"), named in config/{environment}/routes.yaml dependencies and in "
                    "preflight's cloudwatch_role_stack",
                )
            ]
        return [
            Finding(
                "API Gateway has no CloudWatch role in this account and region, so a WebSocket "
                "stage with access logs cannot be created",
                "launch account/api-gateway-logging.yaml first (sceptre launch account)",
            )
        ]
    role_name = role_arn.rsplit("/", 1)[-1]
    try:
        call("iam", "get_role", {"RoleName": role_name})
    except ClientError as error:
        if _code(error) != "NoSuchEntity":
            raise
        return [
            Finding(
                f"API Gateway's CloudWatch role {role_arn} does not exist",
                "relaunch account/api-gateway-logging.yaml (sceptre launch account)",
            )
        ]
    return []


def _concurrency(call: Call, settings: Settings) -> tuple[list[Finding], list[Finding]]:
    account = call("lambda", "get_account_settings")["AccountLimit"]
    quota = int(account["ConcurrentExecutions"])
    unreserved = int(account["UnreservedConcurrentExecutions"])
    minimum = rules.unreserved_minimum(quota)
    wanted = sum(settings.reserved_concurrency.values())
    # What this environment's functions reserve today is given back when they are updated.
    held = sum(
        _reserved_now(call, settings.environment, name) for name in settings.reserved_concurrency
    )
    available = unreserved + held - minimum
    failures, warnings = [], []
    if wanted > available:
        failures.append(
            Finding(
                f"reserved_concurrency reserves {wanted} executions, but the account "
                f"(quota {quota}, {unreserved} unreserved) can reserve {max(available, 0)} more "
                f"and keep the {minimum} Lambda requires unreserved",
                "lower reserved_concurrency in config/"
                f"{settings.environment}/config.yaml, or ask AWS to raise the Lambda quota "
                "'Concurrent executions'",
            )
        )
    in_flight = settings.throttling.in_flight
    if "forwarding" not in settings.reserved_concurrency and in_flight > unreserved:
        warnings.append(
            Finding(
                f"the stage admits {in_flight} requests in flight (throttling.rate_limit × "
                f"request_seconds), more than the account's {unreserved} unreserved executions",
                "Lambda throttles the requests beyond that; lower throttling or raise the quota",
            )
        )
    return failures, warnings


def _reserved_now(call: Call, environment: str, function: str) -> int:
    try:
        found = call(
            "lambda",
            "get_function_concurrency",
            {"FunctionName": resource_name(function, environment)},
        )
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return 0
        raise
    return int(found.get("ReservedConcurrentExecutions") or 0)


def _certificate(call: Call, domain: CustomDomain, region: str) -> list[Finding]:
    arn = str(domain.certificate_arn)
    wanted = f"*.{domain.domain_name}"
    fix = (
        f"request or import an ACM certificate for {wanted} in {region} "
        "and set custom_domain.certificate_arn (or remove it: with custom_domain.hosted_zone_id "
        "the domain stack creates the certificate)"
    )
    arn_region = arn.split(":")[3] if arn.count(":") >= 5 else ""
    if arn_region != region:
        return [
            Finding(
                f"certificate {arn} is in {arn_region or 'no region'}, but a REGIONAL domain "
                f"needs one in {region}",
                fix,
            )
        ]
    try:
        certificate = call("acm", "describe_certificate", {"CertificateArn": arn})["Certificate"]
    except ClientError as error:
        if _code(error) not in ("ResourceNotFoundException", "ValidationException"):
            raise
        return [Finding(f"certificate {arn} does not exist", fix)]
    status = certificate.get("Status")
    if status != "ISSUED":
        return [
            Finding(
                f"certificate {arn} is {status}, not ISSUED",
                "complete its DNS validation (acm describe-certificate shows the record)",
            )
        ]
    names = {certificate.get("DomainName"), *certificate.get("SubjectAlternativeNames", [])}
    if wanted not in names:
        return [
            Finding(
                f"certificate {arn} covers {', '.join(sorted(n for n in names if n))}, "
                f"not {wanted}",
                fix,
            )
        ]
    return []


def _hosted_zone(call: Call, domain: CustomDomain) -> list[Finding]:
    zone_id = str(domain.hosted_zone_id)
    try:
        zone = call("route53", "get_hosted_zone", {"Id": zone_id})["HostedZone"]
    except ClientError as error:
        if _code(error) != "NoSuchHostedZone":
            raise
        return [
            Finding(
                f"hosted zone {zone_id} does not exist",
                "set custom_domain.hosted_zone_id to the zone of "
                f"{domain.domain_name}, or remove it, give custom_domain.certificate_arn and "
                "create the DNS record yourself",
            )
        ]
    zone_name = str(zone.get("Name", "")).rstrip(".")
    name = str(domain.domain_name)
    if name != zone_name and not name.endswith("." + zone_name):
        return [
            Finding(
                f"hosted zone {zone_id} is {zone_name}, which cannot hold *.{name}",
                f"set custom_domain.hosted_zone_id to the zone of {name}",
            )
        ]
    if zone.get("Config", {}).get("PrivateZone"):
        return [
            Finding(
                f"hosted zone {zone_id} ({zone_name}) is private: its records resolve only "
                "inside its VPCs, so no tunnel would resolve on the internet",
                f"set custom_domain.hosted_zone_id to the public zone of {name}",
            )
        ]
    return []


def _existing_function(
    call: Call, environment: str, function: str, existing: ExistingFunction, region: str
) -> list[Finding]:
    """The function named in ``existing_functions.<function>``: there, here, and ours in contract.

    Its region must be the stack's: the monitoring stack's alarms watch the Lambda metrics of
    their own region only (CloudWatch refuses an alarm on another region's metric: "Cannot
    create an Alarm in region 'us-west-2' based on metric '5xxErrorRate' in 'us-east-1'",
    aws/aws-cdk#30483, https://github.com/aws/aws-cdk/issues/30483), and the invoke permission
    is made by the stack in its region. GetFunction returns the function's tags, but only to a
    caller also allowed lambda:ListTags ("Lambda returns tag data only if you have explicit
    allow permissions for lambda:ListTags", GetFunctionResponse in the Lambda API model, as
    the AWS SDK for SAP ABAP documents it, https://docs.aws.amazon.com/sdk-for-sap-abap/v1/api/
    latest/lmd/model/_AWS1_CL_LMDGETFUNCRESPONSE.html; "For tagged functions, this permission
    is also necessary for GetFunction", Lambda developer guide, Using tags on Lambda functions,
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-tags.html; without it the answer
    has TagsError instead)."""
    setting = f"existing_functions.{function}"
    config = f"config/{environment}/config.yaml"
    if existing.region != region:
        return [
            Finding(
                f"{setting} {existing.arn} is in {existing.region}, but {environment} is "
                f"launched in {region}, where its alarms and invoke permission would be",
                f"name a function deployed in {region} in {config}",
            )
        ]
    try:
        found = call("lambda", "get_function", {"FunctionName": existing.arn})
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return [
                Finding(
                    f"{setting} {existing.arn} does not exist",
                    f"deploy it first, or remove {setting} from {config} so that the "
                    "functions stack creates ours",
                )
            ]
        if _code(error) == "AccessDeniedException":
            return [
                Finding(
                    f"{setting} {existing.arn} cannot be read ({_code(error)})",
                    "give the deployer lambda:GetFunction and lambda:ListTags on it "
                    "(make deployer-policy); a function of another account cannot be used",
                )
            ]
        raise
    tag_fix = (
        f"deploy a handler written to the tunnel's contract {PROTOCOL_VERSION} "
        f"(functions/{function}/, see the README: an existing function in place of ours), then "
        f"aws lambda tag-resource --resource {existing.arn} --tags "
        f"{PROTOCOL_TAG}={PROTOCOL_VERSION}"
    )
    if "Tags" not in found and found.get("TagsError"):
        error_code = found["TagsError"].get("ErrorCode", "TagsError")
        return [
            Finding(
                f"{setting} {existing.arn}: its tags cannot be read ({error_code})",
                "give the deployer lambda:ListTags on it (make deployer-policy)",
            )
        ]
    contract = (found.get("Tags") or {}).get(PROTOCOL_TAG)
    if contract != PROTOCOL_VERSION:
        shown = f"{PROTOCOL_TAG}={contract}" if contract is not None else f"no {PROTOCOL_TAG} tag"
        return [
            Finding(
                f"{setting} {existing.arn} has {shown}, not {PROTOCOL_TAG}={PROTOCOL_VERSION}: "
                "it may not speak this tunnel's handler contract",
                tag_fix,
            )
        ]
    return []


def _public_suffix(domain: CustomDomain) -> list[Finding]:
    name = str(domain.domain_name)
    if public_suffix.is_public_suffix(name):
        return []
    return [
        Finding(
            f"{name} is not on the Public Suffix List, so browsers treat every tunnel under it "
            f"as one site: a page in one tunnel can set cookies for all of them "
            f"(document.cookie with domain={name})",
            "before production, have it added to the list's private section "
            "(https://github.com/publicsuffix/list), as ngrok did for ngrok.io; see the README",
        )
    ]


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
    return str(error)
