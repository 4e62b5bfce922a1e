"""E9002: Resource ``*`` only for actions that accept no resource ARN.

Not in a trust policy (it has no Resource), nor in the policy of one resource (a key policy,
a secret's policy), where ``*`` means that resource.
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tunnel_infra.iam_statements import SELF, TRUST, policy_statements

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
            if not found.allows or found.kind in (SELF, TRUST) or "*" not in found.resources:
                continue
            # NotAction on "*" is E9008's: it names no action to list here.
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
