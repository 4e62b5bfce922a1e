"""E9005: ARNs in policies and invoke permissions use ``${AWS::Partition}``, not ``arn:aws:``."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn_lint_rules._statements import policy_statements, text


class ArnsUsePartition(CloudFormationLintRule):
    id = "E9005"
    shortdesc = "ARNs use the partition pseudo parameter"
    description = "A hard-coded 'arn:aws:' breaks in aws-cn and aws-us-gov; use ${AWS::Partition}"
    tags = ["iam", "partition"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        matches = []
        for found in policy_statements(cfn.template):
            for index, resource in enumerate(found.resources):
                if text(resource).startswith("arn:aws:"):
                    matches.append(
                        RuleMatch(
                            [*found.path, "Resource", index],
                            f"{found.logical_id}: {text(resource)!r} hard-codes the partition",
                        )
                    )
        for logical_id, resource in (cfn.template.get("Resources") or {}).items():
            if resource.get("Type") != "AWS::Lambda::Permission":
                continue
            source = (resource.get("Properties") or {}).get("SourceArn")
            if text(source).startswith("arn:aws:"):
                matches.append(
                    RuleMatch(
                        ["Resources", logical_id, "Properties", "SourceArn"],
                        f"{logical_id}: SourceArn hard-codes the partition",
                    )
                )
        return matches
