"""Per-environment settings: the validated form of a stack's ``sceptre_user_data``.

Every stack of an environment inherits the same user data from ``config/<env>/config.yaml``,
so one schema covers them all. Validation happens before any troposphere object is built,
so a bad config fails with a message that names the key, never deep inside troposphere.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from tunnel_shared import capacity, limits
from tunnel_shared.names import resource_name
from tunnel_shared.protocol import PROTOCOL_TAG

from aws_fidelity import rules
from tunnel_infra.functions import FUNCTIONS

# The functions that can hold a reservation.
FUNCTION_NAMES = tuple(function.name for function in FUNCTIONS)
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{1,15}$")
DOMAIN_NAME = re.compile(r"^(?=.{4,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
HOSTED_ZONE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
# Each public request holds a forwarding execution until the agent answers, at most this long
# (forwarding's deadline, under the HTTP API's 30 s).
MAX_REQUEST_SECONDS = limits.REQUEST_DEADLINE_SECONDS
# A Lambda function's ARN, unqualified or with a version or alias after it (the pattern of the
# Lambda API reference, ListTags: ARN; a name is 1 to 64 characters).
LAMBDA_FUNCTION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d):"
    r"(?P<account>\d{12}):function:(?P<name>[a-zA-Z0-9_-]{1,64})(:(?P<qualifier>[^:]*))?$"
)
TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
# API Gateway's throttle for one account and region, across all its APIs (API Gateway quotas):
# no stage limit can go past it.
ACCOUNT_RATE_LIMIT = 10_000
ACCOUNT_BURST_LIMIT = 5_000
# Agent messages on the WebSocket $default route per admitted public request: its response, and
# as much again for pings, ready and the responses of requests admitted in a burst.
AGENT_MESSAGES_PER_REQUEST = 2
# $connect gets this fraction of the public rate: an agent connects once per connection's life
# (2 h at most), and a reconnect loop must not spend the messages' budget or Lambda's.
CONNECT_SHARE = 10
# Values CloudWatch Logs accepts for RetentionInDays.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)


class SettingsError(ValueError):
    """A user-data value is missing, misspelled or of the wrong type, at ``key`` (dotted)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key} {problem}" if key else problem)
        self.key = key
        self.problem = problem


class StageLimit(NamedTuple):
    """One stage or route throttle: API Gateway's token bucket (burst) and refill (rate/s)."""

    burst: int
    rate: int


@dataclass(frozen=True)
class Throttling:
    """The public HTTP stage's limits, and how long a request holds forwarding on average.

    Little's law: requests in flight = rate × mean duration. Each one in flight is one
    forwarding execution, so the stage's rate is sized with forwarding's concurrency.
    """

    burst_limit: int
    rate_limit: int
    request_seconds: int
    # Requests one tunnel may have in flight at once (tunnel_shared.capacity): a slow or dead
    # tunnel holds at most this many forwarding executions, whatever its callers send.
    tunnel_in_flight: int = 20

    @property
    def in_flight(self) -> int:
        """Forwarding executions the stage's steady rate can keep busy."""
        return self.rate_limit * self.request_seconds

    @property
    def public_requests(self) -> StageLimit:
        """The public HTTP stage."""
        return StageLimit(self.burst_limit, self.rate_limit)

    @property
    def agent_messages(self) -> StageLimit:
        """The WebSocket stage and its $default route: every public request the HTTP stage
        admits costs one agent message there, beside pings. Sized from the HTTP limits, so
        that public traffic at its limit never throttles the agents' answers to it."""
        return StageLimit(
            min(self.burst_limit * AGENT_MESSAGES_PER_REQUEST, ACCOUNT_BURST_LIMIT),
            min(self.rate_limit * AGENT_MESSAGES_PER_REQUEST, ACCOUNT_RATE_LIMIT),
        )

    @property
    def answer_channel(self) -> StageLimit:
        """The answers API's stage ($connect and whoami): a forwarding container connects and
        asks whoami once, then again only to renew (2-hour cap, idle, a freeze). At most as many
        containers start at once as public requests are admitted, so the agents' message limits
        (twice the public ones) cover a burst of cold containers' connect and whoami."""
        return self.agent_messages

    @property
    def agent_connects(self) -> StageLimit:
        """The WebSocket $connect route: each connect runs the authorizer and connect."""
        return StageLimit(
            max(1, self.burst_limit // CONNECT_SHARE), max(1, self.rate_limit // CONNECT_SHARE)
        )


@dataclass(frozen=True)
class CustomDomain:
    """A host per tunnel, ``<subdomain>.<domain_name>``: on wherever ``domain_name`` is set.

    ``hosted_zone_id``, the Route 53 zone that holds the domain: the domain stack creates the
    alias record for ``*.<domain_name>`` there and, unless ``certificate_arn`` names one, the
    wildcard certificate too, validated through the zone by CloudFormation. Without a zone the
    certificate is the user's (``certificate_arn``) and so is the DNS record. ``enabled: false``
    turns a configured domain off.
    """

    enabled: bool = False
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    certificate_arn: str | None = None

    @property
    def creates_certificate(self) -> bool:
        """The domain stack requests the wildcard certificate and validates it in the zone."""
        return self.enabled and self.hosted_zone_id is not None and self.certificate_arn is None


@dataclass(frozen=True)
class Waf:
    """Fair shares at the public edge: an AWS WAF web ACL on the REST API's stage with two
    rate-based rules, each a limit of requests per ``window_seconds``: ``per_client`` for one
    client IP, ``per_tunnel`` for one Host (one tunnel, whatever its callers' IPs). Off unless
    the ``waf`` block is set; ``enabled: false`` turns a configured one off."""

    enabled: bool = False
    per_client: int = 0
    per_tunnel: int = 0
    window_seconds: int = rules.WAF_DEFAULT_EVALUATION_WINDOW_SECONDS


class ExistingFunction(NamedTuple):
    """A Lambda function deployed by someone else, used in place of one of ours: the stacks
    neither package nor create it, and point the routes, permissions and alarms at it."""

    arn: str
    region: str
    account: str
    name: str


@dataclass(frozen=True)
class Alarms:
    topic_arn: str | None = None
    create_topic: bool = False


@dataclass(frozen=True)
class Settings:
    environment: str
    architecture: str
    memory_mb: int
    # Function name -> executions reserved for it; empty: every function uses the account's
    # unreserved pool (a new account may have only 10, and reservations must leave 100).
    reserved_concurrency: dict[str, int]
    log_retention_days: int
    tracing: bool
    data_protection: bool
    customer_managed_key: bool
    throttling: Throttling
    custom_domain: CustomDomain
    alarms: Alarms
    waf: Waf = Waf()
    # Function name -> the existing function used in its place (existing_functions).
    existing_functions: dict[str, ExistingFunction] = field(default_factory=dict)

    def ours(self, function: str) -> bool:
        """Whether the stacks package and create ``function``, rather than use an existing one."""
        return function not in self.existing_functions

    def require_custom_domain(self) -> CustomDomain:
        """The domain settings, for the stack that is launched only where a domain is set
        (``config/<env>/domain.yaml`` is ``obsolete`` otherwise, and launches skip it)."""
        domain = self.custom_domain
        if not domain.enabled:
            raise SettingsError(
                "custom_domain.domain_name",
                f"is not set (or custom_domain.enabled is false), so {self.environment} has no "
                "custom domain: its domain stack is obsolete and sceptre launch skips it",
            )
        return domain


def parse_settings(user_data: Any) -> Settings:
    """Validate ``sceptre_user_data`` and return typed settings, or raise SettingsError."""
    data = _mapping(user_data, "")
    _reject_unknown(data, Settings, "")
    settings = Settings(
        environment=_match(data, "environment", ENVIRONMENT_NAME, "a lowercase name like 'dev'"),
        architecture=_choice(data, "architecture", ("x86_64", "arm64")),
        memory_mb=_int(data, "memory_mb", 128, 10240),
        reserved_concurrency=_reserved_concurrency(data),
        log_retention_days=_choice(data, "log_retention_days", LOG_RETENTION_DAYS),
        tracing=_bool(data, "tracing"),
        data_protection=_bool(data, "data_protection"),
        customer_managed_key=_bool(data, "customer_managed_key"),
        throttling=_throttling(data),
        custom_domain=_custom_domain(data),
        alarms=_alarms(data),
        waf=_waf(data),
        existing_functions=_existing_functions(data),
    )
    _check_existing(settings)
    _check_capacity(settings)
    return settings


def _reserved_concurrency(data: dict[str, Any]) -> dict[str, int]:
    block = _mapping(data.get("reserved_concurrency") or {}, "reserved_concurrency")
    reserved = {}
    for name in sorted(block, key=str):
        if name not in FUNCTION_NAMES:
            close = difflib.get_close_matches(str(name), FUNCTION_NAMES, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(FUNCTION_NAMES)}"
            raise SettingsError(f"reserved_concurrency.{name}", f"is not a function; {hint}")
        reserved[name] = _int(block, name, 1, 10000, prefix="reserved_concurrency.")
    return reserved


def _existing_functions(data: dict[str, Any]) -> dict[str, ExistingFunction]:
    """``existing_functions: {forwarding: arn:aws:lambda:...:function:my-forwarding}``.

    Only an unqualified ARN: the handler contract is a tag, and tags belong to the function,
    never to one of its versions or aliases ("Tags apply at the function level, not to versions
    or aliases", Lambda developer guide, Using tags on Lambda functions,
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-tags.html), so preflight could
    not check the contract of the version an alias points at, and its owner could move the
    alias to other code with no review here."""
    block = _mapping(data.get("existing_functions") or {}, "existing_functions")
    found = {}
    for name in sorted(block, key=str):
        key = f"existing_functions.{name}"
        if name not in FUNCTION_NAMES:
            close = difflib.get_close_matches(str(name), FUNCTION_NAMES, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(FUNCTION_NAMES)}"
            raise SettingsError(key, f"is not a function; {hint}")
        value = block[name]
        match = LAMBDA_FUNCTION_ARN.match(value) if isinstance(value, str) else None
        if match is None:
            raise SettingsError(
                key,
                "must be a Lambda function ARN "
                f"(arn:aws:lambda:<region>:<account>:function:<name>), got {_shown(value)}",
            )
        if match.group("qualifier") is not None:
            unqualified = value.rsplit(":", 1)[0]
            raise SettingsError(
                key,
                f"names a version or alias ({match.group('qualifier') or 'empty'}); give the "
                f"function's own ARN, {unqualified}: its {PROTOCOL_TAG} tag, which preflight "
                "checks, belongs to the function, not to a version or alias",
            )
        found[name] = ExistingFunction(
            value, match.group("region"), match.group("account"), match.group("name")
        )
    return found


def _check_existing(settings: Settings) -> None:
    """An existing function is its owner's: nothing of ours may configure or replace it."""
    for function, existing in settings.existing_functions.items():
        ours = resource_name(function, settings.environment)
        if existing.name == ours:
            raise SettingsError(
                f"existing_functions.{function}",
                f"names {ours}, the function this environment's functions stack creates: once "
                "it is existing the stack deletes it; name a function deployed on its own",
            )
        if function in settings.reserved_concurrency:
            raise SettingsError(
                f"reserved_concurrency.{function}",
                f"is set, but {function} is an existing function (existing_functions."
                f"{function}): its concurrency is its owner's to reserve; remove this line",
            )


def _check_capacity(settings: Settings) -> None:
    """Refuse a stage that admits more requests in flight than forwarding can run."""
    throttling = settings.throttling
    forwarding = settings.reserved_concurrency.get("forwarding")
    if forwarding is None:
        return  # the account's unreserved pool: preflight compares it with in_flight
    if throttling.in_flight > forwarding:
        raise SettingsError(
            "throttling",
            f"admits {throttling.rate_limit}/s × {throttling.request_seconds} s = "
            f"{throttling.in_flight} requests in flight, but reserved_concurrency.forwarding is "
            f"{forwarding}: lower rate_limit or request_seconds, or reserve more",
        )
    held = capacity.executions_per_tunnel(throttling.tunnel_in_flight)
    if held >= forwarding:
        raise SettingsError(
            "throttling.tunnel_in_flight",
            f"is {throttling.tunnel_in_flight}: one tunnel at its cap holds {held} forwarding "
            f"executions with its waiting callers, not below reserved_concurrency.forwarding "
            f"({forwarding}), so it would take every one",
        )
    if throttling.burst_limit > forwarding:
        raise SettingsError(
            "throttling.burst_limit",
            f"is {throttling.burst_limit}, more than reserved_concurrency.forwarding "
            f"({forwarding}): a burst would be throttled by Lambda instead of by the stage",
        )


def _throttling(data: dict[str, Any]) -> Throttling:
    block = _mapping(_required(data, "throttling"), "throttling")
    _reject_unknown(block, Throttling, "throttling.")
    return Throttling(
        burst_limit=_int(block, "burst_limit", 1, ACCOUNT_BURST_LIMIT, prefix="throttling."),
        rate_limit=_int(block, "rate_limit", 1, ACCOUNT_RATE_LIMIT, prefix="throttling."),
        request_seconds=_int(
            block, "request_seconds", 1, MAX_REQUEST_SECONDS, prefix="throttling."
        ),
        tunnel_in_flight=(
            _int(block, "tunnel_in_flight", 1, 1000, prefix="throttling.")
            if "tunnel_in_flight" in block
            else Throttling.tunnel_in_flight
        ),
    )


def _custom_domain(data: dict[str, Any]) -> CustomDomain:
    """Off unless ``custom_domain.domain_name`` is set: one line turns it on."""
    block = _mapping(data.get("custom_domain") or {}, "custom_domain")
    _reject_unknown(block, CustomDomain, "custom_domain.")
    prefix = "custom_domain."
    enabled = _bool(block, "enabled", prefix=prefix, default=True)
    if not block or not enabled:
        return CustomDomain()
    name = _match(block, "domain_name", DOMAIN_NAME, "a DNS name", prefix=prefix)
    zone = None
    if block.get("hosted_zone_id") is not None:
        zone = _match(block, "hosted_zone_id", HOSTED_ZONE_ID, "a Route 53 zone id", prefix=prefix)
    arn = None
    if block.get("certificate_arn") is not None:
        arn = _match(block, "certificate_arn", CERTIFICATE_ARN, "an ACM ARN", prefix=prefix)
    elif zone is None:
        raise SettingsError(
            "custom_domain.certificate_arn",
            "is required without custom_domain.hosted_zone_id: give the Route 53 zone of "
            f"{name} (the stacks then create the certificate and the records), or the ARN "
            f"of an ACM certificate for *.{name} in the stack's region",
        )
    return CustomDomain(enabled=True, domain_name=name, hosted_zone_id=zone, certificate_arn=arn)


def _waf(data: dict[str, Any]) -> Waf:
    """Off unless ``waf`` is set; its limits are WAF's own bounds for a rate-based rule."""
    block = _mapping(data.get("waf") or {}, "waf")
    _reject_unknown(block, Waf, "waf.")
    enabled = _bool(block, "enabled", prefix="waf.", default=True)
    if not block or not enabled:
        return Waf()
    window = (
        _choice(block, "window_seconds", rules.WAF_EVALUATION_WINDOWS_SECONDS, prefix="waf.")
        if "window_seconds" in block
        else Waf.window_seconds
    )
    return Waf(
        enabled=True,
        per_client=_rate_limit(block, "per_client", window),
        per_tunnel=_rate_limit(block, "per_tunnel", window),
        window_seconds=window,
    )


def _rate_limit(block: dict[str, Any], key: str, window: int) -> int:
    """Requests per window for one aggregation key, within WAF's bounds for a rate-based rule."""
    value = _required(block, key, "waf.")
    low, high = rules.WAF_RATE_LIMIT_MIN, rules.WAF_RATE_LIMIT_MAX
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingsError(
            f"waf.{key}",
            f"is {_shown(value)}; valid values: whole numbers from {low} to {high} (requests "
            f"per {window} s, AWS WAF's bounds for a rate-based rule)",
        )
    return value


def _alarms(data: dict[str, Any]) -> Alarms:
    block = _mapping(data.get("alarms", {}), "alarms")
    _reject_unknown(block, Alarms, "alarms.")
    topic_arn = None
    if block.get("topic_arn") is not None:
        topic_arn = _match(block, "topic_arn", TOPIC_ARN, "an SNS topic ARN", prefix="alarms.")
    create_topic = _bool(block, "create_topic", prefix="alarms.", default=False)
    if topic_arn and create_topic:
        raise SettingsError("alarms", "takes either topic_arn or create_topic: true, not both")
    return Alarms(topic_arn=topic_arn, create_topic=create_topic)


def _reject_unknown(data: dict[str, Any], schema: type, prefix: str) -> None:
    known = {f.name for f in fields(schema)}
    for key in sorted(data, key=str):
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = (
                f"did you mean {prefix}{close[0]}?"
                if close
                else f"known: {', '.join(sorted(known))}"
            )
            raise SettingsError(f"{prefix}{key}", f"is not a known setting; {hint}")


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(key, f"must be a mapping, got {_kind(value)}")
    return value


def _required(data: dict[str, Any], key: str, prefix: str = "") -> Any:
    if key not in data or data[key] is None:
        raise SettingsError(f"{prefix}{key}", "is required")
    return data[key]


def _int(data: dict[str, Any], key: str, low: int, high: int, prefix: str = "") -> int:
    value = _required(data, key, prefix)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{prefix}{key}", f"must be an integer, got {_kind(value)}")
    if not low <= value <= high:
        raise SettingsError(f"{prefix}{key}", f"must be between {low} and {high}, got {value}")
    return value


def _bool(data: dict[str, Any], key: str, prefix: str = "", default: bool | None = None) -> bool:
    if default is not None and key not in data:
        return default
    value = _required(data, key, prefix)
    if not isinstance(value, bool):
        raise SettingsError(f"{prefix}{key}", f"is {_shown(value)}; valid values: true, false")
    return value


def _choice(data: dict[str, Any], key: str, choices: tuple[Any, ...], prefix: str = "") -> Any:
    value = _required(data, key, prefix)
    if isinstance(value, bool) or value not in choices:
        allowed = ", ".join(str(c) for c in choices)
        raise SettingsError(f"{prefix}{key}", f"is {_shown(value)}; valid values: {allowed}")
    return value


def _match(
    data: dict[str, Any], key: str, pattern: re.Pattern[str], what: str, prefix: str = ""
) -> str:
    value = _required(data, key, prefix)
    if not isinstance(value, str) or not pattern.match(value):
        raise SettingsError(f"{prefix}{key}", f"must be {what}, got {value!r}")
    return value


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _shown(value: Any) -> str:
    """A value as YAML spells it: true, not True; null, not None; strings quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value)
