"""Each project rule stays silent on the good fixture and fires on its bad one."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("fixture", ["least_privilege", "api_gateway_logging", "resource_policies"])
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
        # issue 18 S11: every resource type that carries a policy, and the Not* forms.
        ("role_policy_wildcard", "E9001", 1, "Access allows wildcard action 'dynamodb:*'"),
        ("role_policy_wildcard", "E9002", 1, "Access allows dynamodb:* on '*'"),
        ("allow_not_action", "E9008", 1, "Role allows every action but ['iam:*']"),
        ("allow_not_resource", "E9008", 1, "Policy allows s3:GetObject on every resource but"),
        ("allow_not_resource", "E9005", 1, "'arn:aws:s3:::payroll/*' hard-codes the partition"),
        ("allow_not_principal", "E9008", 1, "BucketPolicy allows every principal but"),
        ("managed_policy_not_action", "E9003", 1, "Managed is a managed policy"),
        ("managed_policy_not_action", "E9008", 1, "Managed allows every action but"),
        ("user_and_group_policies", "E9001", 3, "UserAccess allows wildcard action 'sqs:*'"),
        ("user_and_group_policies", "E9001", 3, "User allows wildcard action '*'"),
        (
            "user_and_group_policies",
            "E9001",
            3,
            "GroupAccess allows wildcard action 'sns:Publish*'",
        ),
        ("user_and_group_policies", "E9003", 1, "Group attaches managed policies"),
        ("resource_policy_wildcards", "E9001", 4, "QueuePolicy allows wildcard action 'sqs:*'"),
        ("resource_policy_wildcards", "E9001", 4, "TopicPolicy allows wildcard action '*'"),
        ("resource_policy_wildcards", "E9001", 4, "Key allows wildcard action 'kms:*'"),
        ("resource_policy_wildcards", "E9001", 4, "SecretPolicy allows wildcard action"),
        ("resource_policy_wildcards", "E9005", 1, "SecretPolicy: 'arn:aws:iam::123456789012:root'"),
        ("lambda_permission_wildcard", "E9001", 1, "Permission allows wildcard action 'lambda:*'"),
        ("conditional_wildcard", "E9001", 1, "Role allows wildcard action 'dynamodb:*'"),
        ("api_gateway_logging_role_policy", "E9007", 2, "Extra allows ['s3:GetObject']"),
    ],
)
def test_bad_template_fires_its_rule(lint_fixture, fixture, rule, expected_count, phrase):
    fired = [message for rule_id, message in lint_fixture("bad", fixture) if rule_id == rule]
    assert len(fired) == expected_count, fired
    assert any(phrase in message for message in fired), fired
