"""E9004: logs actions only on a log group of the same template; never logs:CreateLogGroup.

The account's API Gateway CloudWatch role is the one exception, with a rule of its own (E9007).
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tunnel_infra.iam_statements import IDENTITY, api_gateway_logging_roles, policy_statements


class LogsOnlyToOwnLogGroup(CloudFormationLintRule):
    id = "E9004"
    shortdesc = "Logs only to the stack's own log groups"
    description = (
        "logs:* actions must target GetAtt <LogGroup>.Arn of this template; the stack creates "
        "the group, so logs:CreateLogGroup is never needed"
    )
    tags = ["iam", "least-privilege", "logs"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        resources = cfn.template.get("Resources") or {}
        own_groups = {k for k, v in resources.items() if v.get("Type") == "AWS::Logs::LogGroup"}
        logging_roles = api_gateway_logging_roles(cfn.template)
        matches = []
        for found in policy_statements(cfn.template):
            # A separate policy attached to the logging role is the logging role's (E9007).
            if not found.allows or found.kind != IDENTITY or logging_roles & set(found.attached_to):
                continue
            logs_actions = [a for a in found.actions if str(a).startswith("logs:")]
            if "logs:CreateLogGroup" in logs_actions:
                matches.append(
                    RuleMatch(
                        [*found.path, "Action"],
                        f"{found.logical_id} allows logs:CreateLogGroup; the stack makes the group",
                    )
                )
            if not logs_actions:
                continue
            for resource in found.resources:
                target = (
                    resource.get("Fn::GetAtt", [None])[0] if isinstance(resource, dict) else None
                )
                if target not in own_groups:
                    matches.append(
                        RuleMatch(
                            [*found.path, "Resource"],
                            f"{found.logical_id} allows logs actions on {resource!r}, "
                            "not on one of this template's log groups",
                        )
                    )
        return matches
