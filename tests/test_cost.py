"""make cost: the estimate follows the rendered templates and the settings, the per-request part
scales with the requests, one line recomputed by hand from the price table, bad input is one
line. The per-request counts themselves are checked on the emulator
(tests/functions/test_cost_counts.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tunnel_infra import cost
from tunnel_infra.render import render_environment

PROJECT = Path(__file__).resolve().parent.parent
PRICES = PROJECT / "tunnel_infra" / "data" / "prices-us-east-1.json"


@cache
def rendered(environment: str) -> tuple[dict[str, str], cost.Settings]:
    return render_environment(environment), cost.environment_settings(environment)


def estimate(environment: str, requests: int = 1_000_000, **extra: str) -> cost.Estimate:
    templates, settings = rendered(environment)
    templates = {**templates, **extra}
    return cost.estimate(
        environment,
        settings,
        templates,
        requests,
        cost.Assumptions(),
        cost.load_prices("us-east-1"),
    )


def components(result: cost.Estimate) -> dict[str, cost.Line]:
    return {line.component: line for line in result.fixed + result.per_request}


def test_prod_and_dev_differ_as_their_settings_do() -> None:
    prod, dev = components(estimate("prod")), components(estimate("dev"))
    # prod: WAF on the REST edge of its custom domain, a customer-managed key, a hosted zone.
    assert prod["WAF web ACLs"].quantity == 1 and prod["WAF rules"].quantity == 2
    assert prod["WAF requests"].quantity == 1_000_000
    assert prod["KMS customer managed keys"].quantity == 1
    assert prod["Route 53 hosted zone"].quantity == 1
    assert "REST API requests" in prod and "HTTP API requests" not in prod
    assert "Lambda GB-seconds (512 MB, arm64)" in prod
    # dev: none of them, the HTTP API, and its own memory and architecture.
    for absent in (
        "WAF web ACLs",
        "WAF requests",
        "KMS customer managed keys",
        "Route 53 hosted zone",
    ):
        assert absent not in dev
    assert "HTTP API requests" in dev and "REST API requests" not in dev
    assert "Lambda GB-seconds (256 MB, x86_64)" in dev
    assert estimate("prod").total > estimate("dev").total


def test_the_fixed_lines_count_what_the_templates_declare() -> None:
    templates, _ = rendered("prod")
    bodies = "\n".join(templates.values())
    lines = components(estimate("prod"))
    assert lines["CloudWatch alarms"].quantity == bodies.count("Type: AWS::CloudWatch::Alarm")
    assert lines["Secrets Manager secrets"].quantity == bodies.count(
        "Type: AWS::SecretsManager::Secret"
    )
    # Custom metrics: each of ours that an alarm, a metric filter or the dashboard names, once.
    ours = {
        name
        for name in ("TunnelRejections", "TunnelAddedMilliseconds", "PublicThrottled-prod")
        if name in bodies
    }
    assert len(ours) == 3
    assert lines["CloudWatch custom metrics"].quantity == len(ours)


def test_a_dashboard_in_the_templates_is_priced() -> None:
    dashboard = (
        "Resources:\n  Board:\n    Type: AWS::CloudWatch::Dashboard\n"
        "    Properties:\n      DashboardBody: '{}'\n"
    )
    # Every environment has its own dashboard (templates/monitoring.py); one more adds $3.
    before = components(estimate("dev"))["CloudWatch dashboards"]
    after = components(estimate("dev", **{"dev/board": dashboard}))["CloudWatch dashboards"]
    assert (before.quantity, after.quantity) == (1, 2)
    assert after.monthly - before.monthly == pytest.approx(3.0)


def test_doubling_the_requests_doubles_the_per_request_part_only() -> None:
    once, twice = estimate("prod", 1_000_000), estimate("prod", 2_000_000)
    per_once = sum(line.monthly for line in once.per_request)
    per_twice = sum(line.monthly for line in twice.per_request)
    assert per_twice == pytest.approx(2 * per_once)
    assert [line.monthly for line in twice.fixed] == [line.monthly for line in once.fixed]


def test_one_line_recomputed_by_hand_from_the_price_table() -> None:
    """prod's Lambda GB-seconds: two invocations' time at 512 MB on arm64, priced per GB-s."""
    prices = json.loads(PRICES.read_text())["prices"]
    by_hand = 1_000_000 * (512 / 1024) * (0.2 + 0.02) * prices["lambda_gb_second_arm64"]["price"]
    line = components(estimate("prod"))["Lambda GB-seconds (512 MB, arm64)"]
    assert line.monthly == pytest.approx(by_hand)
    # And the DynamoDB writes: two per request at the WRU price.
    writes = components(estimate("prod"))["DynamoDB writes (lease taken, released)"]
    assert writes.monthly == pytest.approx(2 * prices["dynamodb_write_request_unit"]["price"])


def test_the_table_and_its_assumptions_are_printed_the_same_each_time() -> None:
    first = run("prod", "--requests", "1000000")
    assert first.returncode == 0, first.stderr
    assert first.stdout == run("prod", "--requests", "1000000").stdout
    assert "Fixed total" in first.stdout and "Per request total" in first.stdout
    assert "--response-kb 8: " in first.stdout and "prices read 2026-12-04" in first.stdout


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (["nope"], "no such environment 'nope'"),
        (["prod", "--requests", "lots"], "'lots' is not a whole number of requests"),
        (["prod", "--requests", "-1"], "-1 is negative"),
        (["prod", "--spilled-share", "2"], "over 1"),
    ],
)
def test_bad_input_is_one_line(arguments: list[str], problem: str) -> None:
    done = run(*arguments)
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and problem in done.stderr, done.stderr


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunnel_infra.cost", *arguments],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
