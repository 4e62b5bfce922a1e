"""E9008: no Allow with NotAction, NotResource or NotPrincipal.

Each inverts the grant: every action, resource or principal but the ones named, including
those AWS adds later (and, for NotPrincipal, anonymous callers). IAM's policy element reference
warns against each with Allow. With Deny they narrow, and are accepted.
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tunnel_infra.iam_statements import policy_statements


class NoInvertedAllows(CloudFormationLintRule):
    id = "E9008"
    shortdesc = "No Allow with NotAction, NotResource or NotPrincipal"
    description = (
        "An Allow names what it grants: NotAction, NotResource and NotPrincipal grant "
        "everything but what they name"
    )
    tags = ["iam", "least-privilege"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        matches = []
        for found in policy_statements(cfn.template):
            if not found.allows:
                continue
            granted = ", ".join(map(str, found.actions)) or "every action"
            if "NotAction" in found.statement:
                matches.append(
                    RuleMatch(
                        [*found.path, "NotAction"],
                        f"{found.logical_id} allows every action but {found.not_actions!r}; "
                        "list the actions it needs in Action",
                    )
                )
            if "NotResource" in found.statement:
                matches.append(
                    RuleMatch(
                        [*found.path, "NotResource"],
                        f"{found.logical_id} allows {granted} on every resource but "
                        f"{found.not_resources!r}; name the resources in Resource",
                    )
                )
            if "NotPrincipal" in found.statement:
                matches.append(
                    RuleMatch(
                        [*found.path, "NotPrincipal"],
                        f"{found.logical_id} allows every principal but "
                        f"{found.not_principal!r}, anonymous callers included; name the "
                        "principals in Principal",
                    )
                )
        return matches
