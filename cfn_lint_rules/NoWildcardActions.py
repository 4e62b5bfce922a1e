"""E9001: an Allow statement names exact actions; no ``*`` anywhere in an action."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn_lint_rules._statements import policy_statements


class NoWildcardActions(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "No wildcard actions"
    description = "Allow statements list exact actions: no '*', 'service:*' or 'service:Put*'"
    tags = ["iam", "least-privilege"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        matches = []
        for found in policy_statements(cfn.template):
            if not found.allows or found.kind == "trust":
                continue
            for index, action in enumerate(found.actions):
                if isinstance(action, str) and "*" in action:
                    matches.append(
                        RuleMatch(
                            [*found.path, "Action", index],
                            f"{found.logical_id} allows wildcard action {action!r}; "
                            "list the exact actions",
                        )
                    )
        return matches
