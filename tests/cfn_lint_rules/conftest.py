"""Run cfn-lint with the project rules on a fixture template, as `make cfn-lint` does."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint

RULES = Path(__file__).resolve().parents[2] / "cfn_lint_rules"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def project_rule_matches(path: Path) -> list[tuple[str, str]]:
    """(rule id, message) of every project rule (E9xxx) that fires on the template."""
    matches = lint(
        path.read_text(), config=ManualArgs(append_rules=[str(RULES)], regions=["us-east-1"])
    )
    return sorted((m.rule.id, m.message) for m in matches if m.rule.id.startswith("E9"))


@pytest.fixture
def lint_fixture():
    def run(kind: str, name: str) -> list[tuple[str, str]]:
        return project_rule_matches(FIXTURES / kind / f"{name}.yaml")

    return run
