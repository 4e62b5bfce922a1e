"""The stand-in edge template (tests/waf/edge_template.py) rendered with an environment's
settings, as YAML and as a template dict."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from cfn_flip import load_yaml

from tests.sceptre_config import read_config
from tunnel_infra.sceptre_handler import load_entry_file

EDGE = load_entry_file(Path(__file__).with_name("edge_template.py"))
PROD = read_config("prod/config.yaml")["sceptre_user_data"]


def user_data(**waf: Any) -> dict[str, Any]:
    """Prod's user data, its ``waf`` block changed by ``waf``."""
    data = copy.deepcopy(PROD)
    data["waf"] = {**data["waf"], **waf}
    return data


def rendered(data: dict[str, Any] | None = None) -> str:
    return EDGE.sceptre_handler(data if data is not None else PROD)


def template(data: dict[str, Any] | None = None) -> dict[str, Any]:
    return load_yaml(rendered(data))
