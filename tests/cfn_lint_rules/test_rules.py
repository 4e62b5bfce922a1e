"""Each project rule stays silent on the good fixture and fires on its bad one."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("fixture", ["least_privilege", "api_gateway_logging"])
def test_good_template_passes_every_project_rule(lint_fixture, fixture):
    assert lint_fixture("good", fixture) == []


@pytest.mark.parametrize(
    ("fixture", "rule", "expected_count", "phrase"),
    [
        ("wildcard_actions", "E9001", 2, "allows wildcard action 'dynamodb:*'"),
        ("resource_star", "E9002", 1, "allows dynamodb:GetItem on '*'"),
        ("managed_policies", "E9003", 1, "attaches managed policies"),
        ("logs_elsewhere", "E9004", 2, "allows logs:CreateLogGroup"),
        ("hard_coded_partition", "E9005", 2, "hard-codes the partition"),
        ("broad_trust", "E9006", 1, "only lambda.amazonaws.com may assume it"),
        ("api_gateway_logging_broad", "E9006", 1, "only apigateway.amazonaws.com may assume it"),
        ("api_gateway_logging_broad", "E9007", 2, "allows ['s3:GetObject']"),
        ("api_gateway_logging_broad", "E9007", 2, "not on a log group of its own account"),
    ],
)
def test_bad_template_fires_its_rule(lint_fixture, fixture, rule, expected_count, phrase):
    fired = [message for rule_id, message in lint_fixture("bad", fixture) if rule_id == rule]
    assert len(fired) == expected_count, fired
    assert any(phrase in message for message in fired), fired
