"""E9002: Resource ``*`` only for actions that accept no resource ARN (and in key policies)."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn_lint_rules._statements import policy_statements

# Actions with no resource-level permissions: AWS accepts only "*" for them.
STAR_ONLY_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "cloudwatch:PutMetricData",
    }
)


class ResourceStarOnlyWhereRequired(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "Resource '*' only where AWS accepts nothing else"
    description = (
        "An Allow on Resource '*' may name only actions without resource-level permissions"
    )
    tags = ["iam", "least-privilege"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        matches = []
        for found in policy_statements(cfn.template):
            # In a key policy "*" means the key itself.
            if not found.allows or found.kind in ("key", "trust") or "*" not in found.resources:
                continue
            scoped = [a for a in found.actions if a not in STAR_ONLY_ACTIONS]
            if scoped:
                matches.append(
                    RuleMatch(
                        [*found.path, "Resource"],
                        f"{found.logical_id} allows {', '.join(map(str, scoped))} on '*'; "
                        "these accept a resource ARN",
                    )
                )
        return matches
