"""E9006: roles are assumable by lambda.amazonaws.com only."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn_lint_rules._statements import as_list, policy_statements

LAMBDA = "lambda.amazonaws.com"


class LambdaOnlyTrust(CloudFormationLintRule):
    id = "E9006"
    shortdesc = "Roles trust Lambda only"
    description = (
        "A role's trust policy allows sts:AssumeRole to lambda.amazonaws.com and no one else"
    )
    tags = ["iam", "least-privilege"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        matches = []
        for found in policy_statements(cfn.template):
            if found.kind != "trust" or not found.allows:
                continue
            principal = found.statement.get("Principal")
            services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
            others = set(principal) - {"Service"} if isinstance(principal, dict) else {"*"}
            if services != [LAMBDA] or others or found.actions != ["sts:AssumeRole"]:
                matches.append(
                    RuleMatch(
                        found.path,
                        f"{found.logical_id} trusts {principal!r} for {found.actions}; "
                        f"only {LAMBDA} may assume it",
                    )
                )
        return matches
