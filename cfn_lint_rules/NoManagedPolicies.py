"""E9003: no managed policies, AWS's or ours; each role's access is its own inline policy."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tunnel_infra.iam_statements import IDENTITY_TYPES


class NoManagedPolicies(CloudFormationLintRule):
    id = "E9003"
    shortdesc = "No managed policies"
    description = (
        "Roles carry inline policies only: no ManagedPolicyArns (on a role, user or group), "
        "no AWS::IAM::ManagedPolicy"
    )
    tags = ["iam", "least-privilege"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        matches = []
        for logical_id, resource in (cfn.template.get("Resources") or {}).items():
            kind = resource.get("Type") if isinstance(resource, dict) else None
            if kind == "AWS::IAM::ManagedPolicy":
                matches.append(
                    RuleMatch(["Resources", logical_id], f"{logical_id} is a managed policy")
                )
            elif kind in IDENTITY_TYPES and "ManagedPolicyArns" in (
                resource.get("Properties") or {}
            ):
                matches.append(
                    RuleMatch(
                        ["Resources", logical_id, "Properties", "ManagedPolicyArns"],
                        f"{logical_id} attaches managed policies; grant exact actions inline",
                    )
                )
        return matches
