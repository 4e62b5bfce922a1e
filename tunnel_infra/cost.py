"""A month's cost of an environment, offline: ``python -m tunnel_infra.cost ENV --requests N``.

What the stacks hold comes from the rendered templates (the alarms, KMS keys, secrets, WAF web
ACL and rules, dashboards, custom metrics), what one public request costs from the code
(``PER_REQUEST``, checked against the functions on the emulator by
tests/functions/test_cost_counts.py), and the prices from tunnel_infra/data/prices-<region>.json,
with their date and source. No credentials and no network: Sceptre renders the templates as
``make render`` does. The assumptions the code cannot know (response sizes, durations, agents)
are options, printed under the table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NoReturn

from review.template_text import parse_template
from tunnel_infra.render import ENVIRONMENTS, PROJECT_PATH, render_environment
from tunnel_infra.settings import Settings, SettingsError, parse_settings

DATA = Path(__file__).resolve().parent / "data"
HOURS_IN_MONTH = 730  # AWS's pricing examples count a month as 730 hours
SECONDS_IN_MONTH = HOURS_IN_MONTH * 3600
# forwarding reads a token's record at most this often per container (its
# REVOCATION_CHECK_SECONDS; a function's module is not importable from here).
TOKEN_RECORD_SECONDS = 5.0
# A response message's JSON around its base64 body: ids, status, headers, the reply fields.
RESPONSE_ENVELOPE_BYTES = 1024


@dataclass(frozen=True)
class PerRequest:
    """What one public request answered by a warm forwarding container costs, counted from the
    code (docs/answers-pushed.md, "What stays in DynamoDB"). tests/functions/test_cost_counts.py
    runs requests through the real functions on the emulator and checks each count.

    - Lambda: forwarding runs once (functions/forwarding/handler.py ``handler``), response once
      for the agent's answer (functions/response/handler.py ``_relay``).
    - DynamoDB reads: the claim, read consistently (forwarding ``_claim``: 1 RRU, under 4 KB).
      The token record (``_revoked``, consistent) at most every 5 s per container and token:
      priced apart, as it does not follow the request count.
    - DynamoDB writes: the lease taken and released (tunnel_shared/capacity.py ``acquire``,
      ``release``: two UpdateItems on the ``inflight#`` item, under 1 KB each). response writes
      nothing for an answer.
    - WebSocket messages: the request posted to the agent, the agent's response (received), the
      answer posted to the waiting container on the answers API; each metered per 32 KB.
    - A body too large for a message (limits.py ``MAX_MESSAGE_BYTES``) goes through S3: the
      agent PUTs it to a presigned URL, forwarding GETs it and deletes it (DELETE is free).
    - Log lines: forwarding's and response's one JSON line each (tunnel_shared/log.py), Lambda's
      START, END and REPORT for each, and one access log line on the public stage.
    """

    lambda_invocations: int = 2
    consistent_reads: int = 1
    writes: int = 2
    websocket_messages: int = 3
    spilled_s3_puts: int = 1
    spilled_s3_gets: int = 1
    log_lines: int = 2 * (1 + 3) + 1


PER_REQUEST = PerRequest()


@dataclass(frozen=True)
class Assumptions:
    """What the code cannot tell: the traffic's shape. Every value is printed with the table."""

    response_kb: float = 8.0
    spilled_share: float = 0.02
    forwarding_seconds: float = 0.2
    response_seconds: float = 0.02
    agents: int = 1
    agent_hours: float = float(HOURS_IN_MONTH)
    forwarding_containers: int = 1
    log_line_bytes: int = 300


ASSUMPTION_HELP = {
    "response_kb": "mean size of an answer's body that travels inline, KB",
    "spilled_share": "share of answers too large for a message, sent through S3 (0 to 1)",
    "forwarding_seconds": "mean time forwarding waits for the agent, s",
    "response_seconds": "mean duration of response per message, s",
    "agents": "agents connected",
    "agent_hours": "hours a month each agent is connected",
    "forwarding_containers": "warm forwarding containers (each keeps an answers connection)",
    "log_line_bytes": "mean size of a log line, bytes",
}


@dataclass(frozen=True)
class Line:
    component: str
    quantity: float
    unit: str
    unit_price: float  # per ``per`` units
    per: int

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price / self.per


@dataclass(frozen=True)
class Estimate:
    environment: str
    region: str
    requests: int
    read_on: str
    fixed: list[Line]
    per_request: list[Line]
    assumptions: Assumptions
    unconfirmed: list[str]

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.fixed + self.per_request)


class CostError(Exception):
    """Input the estimate cannot use: one line."""


@dataclass(frozen=True)
class Inventory:
    """What the rendered templates hold, counted by type."""

    types: Counter[str]
    waf_rules: int
    custom_metrics: int
    alarm_metrics: int

    @classmethod
    def of(cls, templates: dict[str, str]) -> Inventory:
        types: Counter[str] = Counter()
        waf_rules = 0
        metrics: set[tuple[str, str]] = set()
        alarm_metrics = 0
        for body in templates.values():
            for resource in (parse_template(body).get("Resources") or {}).values():
                kind = resource.get("Type", "")
                properties = resource.get("Properties") or {}
                types[kind] += 1
                if kind == "AWS::WAFv2::WebACL":
                    waf_rules += len(properties.get("Rules") or [])
                elif kind == "AWS::CloudWatch::Alarm":
                    # A metric-math alarm is priced per metric it reads.
                    alarm_metrics += max(
                        1, sum(1 for m in properties.get("Metrics") or [] if "MetricStat" in m)
                    )
                    metrics |= _custom(properties)
                elif kind == "AWS::Logs::MetricFilter":
                    for transformation in properties.get("MetricTransformations") or []:
                        metrics |= _custom(transformation)
                elif kind == "AWS::CloudWatch::Dashboard":
                    # A metric our code emits only for the dashboard (an EMF point, no alarm).
                    metrics |= _graphed(properties.get("DashboardBody"))
        return cls(types, waf_rules, len(metrics), alarm_metrics)


def _custom(properties: dict[str, Any]) -> set[tuple[str, str]]:
    """The custom metric a declaration names (not an ``AWS/`` namespace): AWS's own are free."""
    namespace = properties.get("Namespace") or properties.get("MetricNamespace")
    name = properties.get("MetricName")
    if isinstance(namespace, str) and isinstance(name, str) and not namespace.startswith("AWS/"):
        return {(namespace, name)}
    return set()


def _graphed(body: object) -> set[tuple[str, str]]:
    """The custom metrics a dashboard body graphs (``[namespace, name, ...]`` lines; the body
    is JSON, a string or an ``Fn::Sub`` of one)."""
    if isinstance(body, dict):
        body = body.get("Fn::Sub")
    if isinstance(body, list):
        body = body[0] if body else None
    try:
        widgets = json.loads(body)["widgets"] if isinstance(body, str) else []
    except (ValueError, KeyError, TypeError):
        return set()
    found: set[tuple[str, str]] = set()
    for widget in widgets:
        for line in (widget.get("properties") or {}).get("metrics") or []:
            if len(line) >= 2 and all(isinstance(part, str) for part in line[:2]):
                found |= _custom({"Namespace": line[0], "MetricName": line[1]})
    return found


def load_prices(region: str) -> dict[str, Any]:
    path = DATA / f"prices-{region}.json"
    if not path.exists():
        raise CostError(f"no price table for {region} ({path.name} in tunnel_infra/data/)")
    return json.loads(path.read_text())


def message_units(body_bytes: float, metered_bytes: int) -> int:
    """How many messages API Gateway bills for an answer carried inline (base64 and its JSON)."""
    size = RESPONSE_ENVELOPE_BYTES + 4 * math.ceil(body_bytes / 3)
    return max(1, math.ceil(size / metered_bytes))


def estimate(
    environment: str,
    settings: Settings,
    templates: dict[str, str],
    requests: int,
    assumptions: Assumptions,
    prices: dict[str, Any],
) -> Estimate:
    table = prices["prices"]
    inventory = Inventory.of(templates)
    used: list[str] = []

    def line(component: str, quantity: float, price: str) -> Line:
        entry = table[price]
        used.append(price)
        return Line(component, quantity, entry["unit"], entry["price"], entry["per"])

    types = inventory.types
    fixed = [line("CloudWatch alarms", inventory.alarm_metrics, "cloudwatch_alarm")]
    if types["AWS::CloudWatch::Dashboard"]:
        fixed.append(
            line(
                "CloudWatch dashboards", types["AWS::CloudWatch::Dashboard"], "cloudwatch_dashboard"
            )
        )
    if inventory.custom_metrics:
        fixed.append(
            line("CloudWatch custom metrics", inventory.custom_metrics, "cloudwatch_custom_metric")
        )
    if types["AWS::KMS::Key"]:
        fixed.append(line("KMS customer managed keys", types["AWS::KMS::Key"], "kms_key"))
    fixed.append(
        line(
            "Secrets Manager secrets", types["AWS::SecretsManager::Secret"], "secretsmanager_secret"
        )
    )
    zones = types["AWS::Route53::HostedZone"] + (1 if settings.custom_domain.hosted_zone_id else 0)
    if zones:
        fixed.append(line("Route 53 hosted zone", zones, "route53_hosted_zone"))
    if types["AWS::WAFv2::WebACL"]:
        fixed.append(line("WAF web ACLs", types["AWS::WAFv2::WebACL"], "waf_web_acl"))
        fixed.append(line("WAF rules", inventory.waf_rules, "waf_rule"))
    a = assumptions
    connection_minutes = (a.agents * a.agent_hours + a.forwarding_containers * HOURS_IN_MONTH) * 60
    fixed.append(
        line("WebSocket connection minutes", connection_minutes, "websocket_connection_minute")
    )
    token_reads = min(
        requests, a.forwarding_containers * a.agents * SECONDS_IN_MONTH / TOKEN_RECORD_SECONDS
    )
    fixed.append(
        line("DynamoDB token record reads (≤ 1 per 5 s)", token_reads, "dynamodb_read_request_unit")
    )

    counts = PER_REQUEST
    metered = table["websocket_message"]["metered_bytes"]
    inline = 1 - a.spilled_share
    # An inline answer is billed twice at its size (the agent's response, the answer posted on);
    # the request message and a spilled answer's messages are small.
    answer_units = message_units(a.response_kb * 1024, metered)
    messages_per_request = counts.websocket_messages + inline * 2 * (answer_units - 1)
    edge, edge_price = (
        ("REST API requests", "rest_api_request")
        if settings.custom_domain.enabled
        else ("HTTP API requests", "http_api_request")
    )
    gb = settings.memory_mb / 1024
    seconds = a.forwarding_seconds + a.response_seconds
    logs_gb = requests * counts.log_lines * a.log_line_bytes / 1024**3
    per_request = [line(edge, requests, edge_price)]
    if types["AWS::WAFv2::WebACL"]:
        per_request.append(line("WAF requests", requests, "waf_request"))
    per_request += [
        line("Lambda requests", requests * counts.lambda_invocations, "lambda_request"),
        line(
            f"Lambda GB-seconds ({settings.memory_mb} MB, {settings.architecture})",
            requests * gb * seconds,
            f"lambda_gb_second_{settings.architecture}",
        ),
        line("WebSocket messages", requests * messages_per_request, "websocket_message"),
        line(
            "DynamoDB reads (claim, consistent)",
            requests * counts.consistent_reads,
            "dynamodb_read_request_unit",
        ),
        line(
            "DynamoDB writes (lease taken, released)",
            requests * counts.writes,
            "dynamodb_write_request_unit",
        ),
        line(
            "S3 PUTs (spilled answers)",
            requests * a.spilled_share * counts.spilled_s3_puts,
            "s3_put_request",
        ),
        line(
            "S3 GETs (spilled answers)",
            requests * a.spilled_share * counts.spilled_s3_gets,
            "s3_get_request",
        ),
        line("CloudWatch Logs ingested", logs_gb, "cloudwatch_logs_ingestion"),
    ]
    unconfirmed = sorted({name for name in used if not table[name].get("confirmed_on_aws_page")})
    return Estimate(
        environment,
        prices["region"],
        requests,
        prices["read_on"],
        fixed,
        per_request,
        a,
        unconfirmed,
    )


def _quantity(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}" if value >= 1 else f"{value:.4f}"


def _price(line: Line) -> str:
    per = "" if line.per == 1 else f"{line.per:,} "
    price = f"{line.unit_price:.10f}".rstrip("0").rstrip(".")
    return f"${price} / {per}{line.unit}"


def format_estimate(result: Estimate) -> str:
    width = max(len(line.component) for line in result.fixed + result.per_request)
    rows = [
        f"{result.environment} in {result.region}, a month at {result.requests:,} requests "
        f"(prices read {result.read_on}: tunnel_infra/data/prices-{result.region}.json)",
        "",
        f"{'component':<{width}}  {'quantity':>16}  {'unit price':<34}  {'monthly $':>10}",
    ]

    def section(title: str, lines: list[Line]) -> float:
        rows.append(title)
        for line in lines:
            rows.append(
                f"{line.component:<{width}}  {_quantity(line.quantity):>16}  "
                f"{_price(line):<34}  {line.monthly:>10.2f}"
            )
        subtotal = sum(line.monthly for line in lines)
        rows.append(f"{title + ' total':<{width}}  {'':>16}  {'':<34}  {subtotal:>10.2f}")
        rows.append("")
        return subtotal

    section("Fixed", result.fixed)
    section("Per request", result.per_request)
    rows.append(f"{'Total':<{width}}  {'':>16}  {'':<34}  {result.total:>10.2f}")
    rows += ["", "Assumptions (change them with the options; --help lists them):"]
    for field in fields(Assumptions):
        option = "--" + field.name.replace("_", "-")
        rows.append(
            f"  {option} {getattr(result.assumptions, field.name):g}: {ASSUMPTION_HELP[field.name]}"
        )
    rows += [
        f"  a month is {HOURS_IN_MONTH} hours; no free tier is taken off (it is the account's, "
        "shared with all else in it)",
        f"  per request, from the code: {_counts()}",
        "  not priced: data transfer out, KMS and Secrets Manager API calls (cached per "
        "container), DNS queries, storage of logs, items and objects, cold starts' init time",
        "Prices not confirmed on AWS's own page (see their sources in the price table): "
        + ", ".join(result.unconfirmed),
    ]
    return "\n".join(rows)


def _counts() -> str:
    return ", ".join(
        f"{field.name} {getattr(PER_REQUEST, field.name)}" for field in fields(PerRequest)
    )


def environment_settings(environment: str) -> Settings:
    """The environment's settings, from its config as Sceptre reads it."""
    from tunnel_infra.config_check import read_stacks

    for stack in read_stacks(PROJECT_PATH, environment):
        if stack.sceptre_user_data:
            return parse_settings(stack.sceptre_user_data)
    raise CostError(f"config/{environment}: no stack has sceptre_user_data")


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"cost: {message}\n")


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of requests") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def _fraction(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{value:g} is over 1; give a share from 0 to 1")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be a number of 0 or more")
    return value


def _whole(text: str) -> int:
    value = _non_negative(text)
    if value != int(value):
        raise argparse.ArgumentTypeError(f"{text} is not a whole number")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = _OneLineParser(prog="python -m tunnel_infra.cost", description=__doc__.splitlines()[0])
    parser.add_argument("environment", metavar="ENV", help="config/<ENV> to estimate")
    parser.add_argument(
        "--requests", type=_count, default=1_000_000, help="public requests a month"
    )
    kinds = {
        "spilled_share": _fraction,
        "agents": _whole,
        "forwarding_containers": _whole,
        "log_line_bytes": _whole,
    }
    for field in fields(Assumptions):
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            type=kinds.get(field.name, _non_negative),
            default=field.default,
            help=f"{ASSUMPTION_HELP[field.name]} (default {field.default:g})",
        )
    args = parser.parse_args(argv)
    environment = args.environment.strip("/")
    known = [name for name in ENVIRONMENTS if (PROJECT_PATH / "config" / name).is_dir()]
    if environment not in known:
        print(
            f"cost: no such environment {environment!r}; known: {', '.join(known)}", file=sys.stderr
        )
        return 2
    assumptions = Assumptions(**{f.name: getattr(args, f.name) for f in fields(Assumptions)})
    try:
        templates = render_environment(environment)
        settings = environment_settings(environment)
        region = _region()
        result = estimate(
            environment, settings, templates, args.requests, assumptions, load_prices(region)
        )
    except (CostError, SettingsError) as error:
        print(f"cost: {error}", file=sys.stderr)
        return 1
    print(format_estimate(result))
    return 0


def _region() -> str:
    """The project's region (config/config.yaml), which the price table must match."""
    import yaml

    root = yaml.safe_load((PROJECT_PATH / "config" / "config.yaml").read_text()) or {}
    return str(root.get("region", "us-east-1"))


if __name__ == "__main__":
    sys.exit(main())
