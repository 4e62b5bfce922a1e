"""E9005: ARNs in policies and invoke permissions use ``${AWS::Partition}``, not ``arn:aws:``.

In every policy's Resource and NotResource, in its principals' ARNs, and in an
``AWS::Lambda::Permission``'s SourceArn.
"""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tunnel_infra.iam_statements import LAMBDA_PERMISSION, as_list, literal_text, policy_statements


class ArnsUsePartition(CloudFormationLintRule):
    id = "E9005"
    shortdesc = "ARNs use the partition pseudo parameter"
    description = "A hard-coded 'arn:aws:' breaks in aws-cn and aws-us-gov; use ${AWS::Partition}"
    tags = ["iam", "partition"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        matches = []
        for found in policy_statements(cfn.template):
            for key in ("Resource", "NotResource", "Principal", "NotPrincipal"):
                for where, arn in _arns(found.statement.get(key), [key]):
                    if literal_text(arn).startswith("arn:aws:"):
                        matches.append(
                            RuleMatch(
                                [*found.path, *where],
                                f"{found.logical_id}: {literal_text(arn)!r} hard-codes the "
                                "partition",
                            )
                        )
        for logical_id, resource in (cfn.template.get("Resources") or {}).items():
            if not isinstance(resource, dict) or resource.get("Type") != LAMBDA_PERMISSION:
                continue
            source = (resource.get("Properties") or {}).get("SourceArn")
            if literal_text(source).startswith("arn:aws:"):
                matches.append(
                    RuleMatch(
                        ["Resources", logical_id, "Properties", "SourceArn"],
                        f"{logical_id}: SourceArn hard-codes the partition",
                    )
                )
        return matches


def _arns(value: Any, path: list[str | int]) -> list[tuple[list[str | int], Any]]:
    """Each ARN-bearing value of a Resource list or a Principal map, with its path."""
    if value is None:
        return []
    if isinstance(value, dict) and not any(k.startswith(("Fn::", "Ref")) for k in value):
        # A principal: {"AWS": [...], "Service": ...}; only AWS names ARNs.
        return _arns(value.get("AWS"), [*path, "AWS"])
    if isinstance(value, list):
        return [(([*path, index]), item) for index, item in enumerate(value)]
    return [(path, item) for item in as_list(value)]
