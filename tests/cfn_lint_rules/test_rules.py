"""Each project rule stays silent on the good fixture and fires on its bad one."""

from __future__ import annotations

import pytest


def test_good_template_passes_every_project_rule(lint_fixture):
    assert lint_fixture("good", "least_privilege") == []


@pytest.mark.parametrize(
    ("fixture", "rule", "expected_count", "phrase"),
    [
        ("wildcard_actions", "E9001", 2, "allows wildcard action 'dynamodb:*'"),
        ("resource_star", "E9002", 1, "allows dynamodb:GetItem on '*'"),
        ("managed_policies", "E9003", 1, "attaches managed policies"),
        ("logs_elsewhere", "E9004", 2, "allows logs:CreateLogGroup"),
        ("hard_coded_partition", "E9005", 2, "hard-codes the partition"),
        ("broad_trust", "E9006", 1, "only lambda.amazonaws.com may assume it"),
    ],
)
def test_bad_template_fires_its_rule(lint_fixture, fixture, rule, expected_count, phrase):
    fired = [message for rule_id, message in lint_fixture("bad", fixture) if rule_id == rule]
    assert len(fired) == expected_count, fired
    assert any(phrase in message for message in fired), fired
