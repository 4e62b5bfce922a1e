"""A bad config fails rendering with one line that names the key, and the file and line that
set it (tests/test_config_errors.py: the locator and the check command)."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.sceptre_config import read_config
from tunnel_infra.settings import SettingsError, parse_settings

DEV = read_config("dev/config.yaml")["sceptre_user_data"]
CERTIFICATE = "arn:aws:acm:us-east-1:111111111111:certificate/a"
PROD = read_config("prod/config.yaml")["sceptre_user_data"]


def changed(base: dict, dotted: str, value: object) -> dict:
    data = copy.deepcopy(base)
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return data


def test_every_environment_config_is_valid():
    for environment in ("dev", "staging", "prod"):
        config = read_config(f"{environment}/config.yaml")
        assert parse_settings(config["sceptre_user_data"]).environment == environment


@pytest.mark.parametrize(
    ("base", "key", "value", "message"),
    [
        (DEV, "memory_mb", "big", "memory_mb must be an integer, got str 'big'"),
        (DEV, "memory_mb", 64, "memory_mb must be between 128 and 10240, got 64"),
        (DEV, "architecture", "sparc", "architecture is 'sparc'; valid values: x86_64, arm64"),
        (DEV, "log_retention_days", 8, "log_retention_days is 8; valid values: 1, 3, 5, 7, 14,"),
        (DEV, "log_retention_days", "7", "log_retention_days is '7'; valid values: 1, 3, 5"),
        (DEV, "tracing", "yes", "tracing is 'yes'; valid values: true, false"),
        (DEV, "data_protection", None, "data_protection is required"),
        (DEV, "customer_managed_key", 1, "customer_managed_key is 1; valid values: true, false"),
        (PROD, "custom_domain.enabled", "no", "custom_domain.enabled is 'no'; valid values: true,"),
        (PROD, "custom_domain.domian_name", "x.test", "did you mean custom_domain.domain_name?"),
        (DEV, "custom_domain", {"hosted_zone_id": "Z1"}, "custom_domain.domain_name is required"),
        (PROD, "alarms.create_topic", "yes", "alarms.create_topic is 'yes'; valid values: true,"),
        (DEV, "architecture", True, "architecture is true; valid values: x86_64, arm64"),
        (DEV, "throttling.request_seconds", KeyError, "throttling.request_seconds is required"),
        (DEV, "throttling.request_seconds", 28, "must be between 1 and 27, got 28"),
        (DEV, "reserved_concurrency", {"fowarding": 5}, "did you mean forwarding?"),
        (DEV, "reserved_concurrency", {"forwarding": 0}, "must be between 1 and 10000"),
        (PROD, "custom_domain.hosted_zone_id", "zone-1", "must be a Route 53 zone id"),
        (DEV, "memroy_mb", 256, "memroy_mb is not a known setting; did you mean memory_mb?"),
        (DEV, "throttling.burst", 5, "throttling.burst is not a known setting"),
        (DEV, "throttling", [1, 2], "throttling must be a mapping, got list"),
        (
            PROD,
            "custom_domain.hosted_zone_id",
            KeyError,
            "custom_domain.certificate_arn is required without custom_domain.hosted_zone_id",
        ),
        (
            PROD,
            "custom_domain.certificate_arn",
            "arn:nope",
            "custom_domain.certificate_arn must be an",
        ),
        (
            PROD,
            "custom_domain.domain_name",
            "Not A Domain",
            "custom_domain.domain_name must be a DNS",
        ),
        (DEV, "environment", "Dev!", "environment must be a lowercase name"),
    ],
)
def test_bad_value_names_its_key(base, key, value, message):
    with pytest.raises(SettingsError) as raised:
        parse_settings(changed(base, key, value))
    assert message in str(raised.value)


def test_reserved_concurrency_is_optional_and_off_in_dev():
    assert parse_settings(DEV).reserved_concurrency == {}
    assert parse_settings(PROD).reserved_concurrency == {"forwarding": 300}


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_environment_sizes_its_stage_with_forwarding(environment):
    settings = parse_settings(read_config(f"{environment}/config.yaml")["sceptre_user_data"])
    throttling = settings.throttling
    assert throttling.in_flight == throttling.rate_limit * throttling.request_seconds
    forwarding = settings.reserved_concurrency.get("forwarding")
    if forwarding is not None:
        assert throttling.in_flight <= forwarding
        assert throttling.burst_limit <= forwarding


def test_a_stage_that_admits_more_than_forwarding_can_run_is_refused():
    # The old prod: 1000/s at the stage, 100 forwarding executions, requests of up to 27 s.
    old = {"burst_limit": 500, "rate_limit": 1000, "request_seconds": 27}
    data = changed(PROD, "throttling", old)
    data = changed(data, "reserved_concurrency", {"forwarding": 100})
    with pytest.raises(SettingsError) as raised:
        parse_settings(data)
    assert str(raised.value) == (
        "throttling admits 1000/s × 27 s = 27000 requests in flight, but "
        "reserved_concurrency.forwarding is 100: lower rate_limit or request_seconds, "
        "or reserve more"
    )


def test_a_burst_over_the_reservation_is_refused():
    data = changed(PROD, "throttling.burst_limit", 301)
    with pytest.raises(SettingsError, match=r"throttling.burst_limit is 301, more than"):
        parse_settings(data)


def test_one_tunnels_cap_must_leave_forwarding_for_the_others():
    assert parse_settings(PROD).throttling.tunnel_in_flight == 50
    data = changed(PROD, "throttling.tunnel_in_flight", 300)
    with pytest.raises(SettingsError, match=r"tunnel_in_flight is 300: one tunnel at its cap"):
        parse_settings(data)


def test_one_tunnels_waiting_callers_count_against_forwarding_too():
    # 150 leases and as many waiters hold all 300 of prod's reserved forwarding executions.
    assert parse_settings(PROD).reserved_concurrency["forwarding"] == 300
    data = changed(PROD, "throttling.tunnel_in_flight", 150)
    with pytest.raises(SettingsError, match=r"holds 300 forwarding executions"):
        parse_settings(data)


def test_the_tunnel_cap_defaults_to_20():
    data = changed(DEV, "throttling", {"burst_limit": 20, "rate_limit": 10, "request_seconds": 5})
    assert parse_settings(data).throttling.tunnel_in_flight == 20


def test_user_data_must_be_a_mapping():
    with pytest.raises(SettingsError, match="must be a mapping, got list"):
        parse_settings([1])


@pytest.mark.parametrize(
    "custom_domain",
    [KeyError, None, {}, {"domain_name": "tunnel.test", "hosted_zone_id": "Z1", "enabled": False}],
)
def test_no_domain_unless_one_is_named(custom_domain):
    settings = parse_settings(changed(PROD, "custom_domain", custom_domain))
    assert not settings.custom_domain.enabled
    with pytest.raises(SettingsError, match="prod has no custom domain"):
        settings.require_custom_domain()


@pytest.mark.parametrize(
    ("custom_domain", "creates_certificate"),
    [
        ({"hosted_zone_id": "Z1"}, True),
        (
            {"hosted_zone_id": "Z1", "certificate_arn": CERTIFICATE},
            False,
        ),
        ({"certificate_arn": CERTIFICATE}, False),
    ],
)
def test_one_setting_turns_a_domain_on(custom_domain, creates_certificate):
    data = changed(DEV, "custom_domain", {"domain_name": "tunnel.test", **custom_domain})
    domain = parse_settings(data).custom_domain
    assert (domain.enabled, domain.domain_name) == (True, "tunnel.test")
    assert domain.creates_certificate is creates_certificate


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    for folder in ("config", "templates", "functions"):
        shutil.copytree(PROJECT / folder, tmp_path / folder)
    return tmp_path


def sceptre_generate(project: Path, stack: str) -> subprocess.CompletedProcess:
    sceptre = Path(sys.executable).parent / "sceptre"
    return subprocess.run(
        [str(sceptre), "--no-colour", "generate", stack],
        cwd=project,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(project)},  # no credentials, no endpoints
        timeout=120,
    )


def test_sceptre_reports_a_bad_config_in_one_line(project_copy):
    config = project_copy / "config/dev/config.yaml"
    config.write_text(config.read_text().replace("memory_mb: 256", "memory_mb: lots"))
    line = config.read_text().splitlines().index("  memory_mb: lots") + 1
    result = sceptre_generate(project_copy, "dev/tables.yaml")
    assert result.returncode == 1
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    expected = f"config/dev/config.yaml:{line}: sceptre_user_data.memory_mb must be an integer"
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_sceptre_reports_a_missing_certificate_in_one_line(project_copy):
    # prod without its hosted zone: then a certificate of its own is needed.
    config = project_copy / "config/prod/config.yaml"
    text = "\n".join(
        line for line in config.read_text().splitlines() if "hosted_zone_id:" not in line
    )
    config.write_text(text)
    result = sceptre_generate(project_copy, "prod/domain.yaml")
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip()
    # Every prod stack reads the same settings, set in prod's config.yaml: a missing key is
    # reported at its parent.
    assert re.search(
        r"config/prod/config\.yaml:\d+: sceptre_user_data\.custom_domain\.certificate_arn "
        r"is required without custom_domain\.hosted_zone_id",
        output,
    ), output
    assert "Traceback" not in output


def test_sceptre_renders_offline_without_credentials(project_copy):
    result = sceptre_generate(project_copy, "prod/functions.yaml")
    assert result.returncode == 0, result.stderr
    assert "AWS::Lambda::Function" in result.stdout
