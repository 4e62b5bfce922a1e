"""E9001: an Allow names exact actions; no ``*`` anywhere in an action.

On every resource type that carries a policy (identity, trust, resource and key policies; see
tunnel_infra/iam_statements.py) and in an ``AWS::Lambda::Permission``, whose Action AddPermission
accepts as ``lambda:*`` or ``*``. A Deny may use wildcards: it only narrows (the buckets' deny of
insecure transport is ``s3:*``).
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tunnel_infra.iam_statements import LAMBDA_PERMISSION, policy_statements


class NoWildcardActions(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "No wildcard actions"
    description = "Allow statements list exact actions: no '*', 'service:*' or 'service:Put*'"
    tags = ["iam", "least-privilege"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        matches = []
        for found in policy_statements(cfn.template):
            if not found.allows:
                continue
            listed = isinstance(found.statement.get("Action"), list)
            for index, action in enumerate(found.actions):
                if isinstance(action, str) and "*" in action:
                    matches.append(
                        RuleMatch(
                            [*found.path, "Action", *([index] if listed else [])],
                            f"{found.logical_id} allows wildcard action {action!r}; "
                            "list the exact actions",
                        )
                    )
        for logical_id, resource in (cfn.template.get("Resources") or {}).items():
            if not isinstance(resource, dict) or resource.get("Type") != LAMBDA_PERMISSION:
                continue
            action = (resource.get("Properties") or {}).get("Action")
            if isinstance(action, str) and "*" in action:
                matches.append(
                    RuleMatch(
                        ["Resources", logical_id, "Properties", "Action"],
                        f"{logical_id} allows wildcard action {action!r}; name the one action "
                        "the principal needs (lambda:InvokeFunction)",
                    )
                )
        return matches
