"""Shared fixtures: every template of every environment, rendered once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfn_flip import load_yaml

from tunnel_infra.render import render_all

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def rendered() -> dict[str, str]:
    """Stack name (``dev/tables``) → template body, as ``make render`` writes it."""
    return render_all(PROJECT)


@pytest.fixture(scope="session")
def templates(rendered: dict[str, str]) -> dict[str, dict]:
    """Stack name → parsed template, intrinsic functions in long form (``Fn::GetAtt``)."""
    return {name: load_yaml(body) for name, body in rendered.items()}
