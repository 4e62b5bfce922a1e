"""The ``waf`` setting: off unless set, on in prod; every bad value is one line naming the key
and WAF's valid values, at the file and line that set it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.project_copy import copy_project
from tests.sceptre_config import read_config
from tests.test_config_errors import check, edit, one_line
from tunnel_infra.settings import SettingsError, Waf, parse_settings

PROD = read_config("prod/config.yaml")["sceptre_user_data"]
DEV = read_config("dev/config.yaml")["sceptre_user_data"]
RANGE = "valid values: whole numbers from 10 to 2000000000"


def with_waf(base: dict, waf: object) -> dict:
    data = copy.deepcopy(base)
    data["waf"] = waf
    return data


def test_prod_has_waf_and_dev_and_staging_do_not() -> None:
    assert parse_settings(PROD).waf == Waf(
        enabled=True, per_client=2000, per_tunnel=6000, window_seconds=300
    )
    staging = read_config("staging/config.yaml")["sceptre_user_data"]
    assert parse_settings(DEV).waf == parse_settings(staging).waf == Waf()
    assert not Waf().enabled


def test_the_window_defaults_to_wafs_and_enabled_false_turns_it_off() -> None:
    waf = parse_settings(with_waf(DEV, {"per_client": 100, "per_tunnel": 10})).waf
    assert (waf.enabled, waf.window_seconds) == (True, 300)
    off = {"enabled": False, "per_client": 100, "per_tunnel": 100}
    assert parse_settings(with_waf(DEV, off)).waf == Waf()
    lowest = {"per_client": 10, "per_tunnel": 2_000_000_000, "window_seconds": 60}
    assert parse_settings(with_waf(DEV, lowest)).waf.per_tunnel == 2_000_000_000


@pytest.mark.parametrize(
    ("waf", "message"),
    [
        (
            {"per_client": 9, "per_tunnel": 100},
            f"waf.per_client is 9; {RANGE} (requests per 300 s, AWS WAF's bounds for a "
            "rate-based rule)",
        ),
        (
            {"per_client": 100, "per_tunnel": 2_000_000_001},
            f"waf.per_tunnel is 2000000001; {RANGE}",
        ),
        ({"per_client": "lots", "per_tunnel": 100}, f"waf.per_client is 'lots'; {RANGE}"),
        ({"per_client": True, "per_tunnel": 100}, f"waf.per_client is true; {RANGE}"),
        ({"per_client": 100.5, "per_tunnel": 100}, f"waf.per_client is 100.5; {RANGE}"),
        ({"per_client": 100}, "waf.per_tunnel is required"),
        (
            {"per_client": 100, "per_tunnel": 100, "window_seconds": 30},
            "waf.window_seconds is 30; valid values: 60, 120, 300, 600",
        ),
        (
            {"per_client": 100, "per_tunnel": 100, "window_seconds": "300"},
            "waf.window_seconds is '300'; valid values: 60, 120, 300, 600",
        ),
        ({"per_client": 100, "per_tunel": 100}, "waf.per_tunel is not a known setting; did you"),
        ({"per_client": 100, "per_tunnel": 100, "enabled": "yes"}, "waf.enabled is 'yes'; valid"),
        ([2000], "waf must be a mapping, got list"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_valid_values(waf: object, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(with_waf(DEV, waf))
    assert str(raised.value).startswith(message), str(raised.value)
    assert "\n" not in str(raised.value)


def test_config_check_reports_a_bad_limit_at_its_file_and_line(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    line = edit(project, "prod/config.yaml", "    per_client: 2000", "    per_client: 5")
    assert one_line(check(project, "prod")) == (
        f"config/prod/config.yaml:{line}: sceptre_user_data.waf.per_client is 5; {RANGE} "
        "(requests per 300 s, AWS WAF's bounds for a rate-based rule)"
    )
