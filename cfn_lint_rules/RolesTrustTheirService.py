"""E9006: a role is assumable by exactly one service: Lambda, or API Gateway for the
account's CloudWatch role (the one an AWS::ApiGateway::Account names)."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tunnel_infra.iam_statements import (
    TRUST,
    api_gateway_logging_roles,
    as_list,
    policy_statements,
)

LAMBDA = "lambda.amazonaws.com"
API_GATEWAY = "apigateway.amazonaws.com"


class RolesTrustTheirService(CloudFormationLintRule):
    id = "E9006"
    shortdesc = "Roles trust their one service"
    description = (
        "A role's trust policy allows sts:AssumeRole to lambda.amazonaws.com and no one else; "
        "the role an AWS::ApiGateway::Account names trusts apigateway.amazonaws.com only"
    )
    tags = ["iam", "least-privilege"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        logging_roles = api_gateway_logging_roles(cfn.template)
        matches = []
        for found in policy_statements(cfn.template):
            if found.kind != TRUST or not found.allows:
                continue
            service = API_GATEWAY if found.logical_id in logging_roles else LAMBDA
            principal = found.statement.get("Principal")
            services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
            others = set(principal) - {"Service"} if isinstance(principal, dict) else {"*"}
            if services != [service] or others or found.actions != ["sts:AssumeRole"]:
                matches.append(
                    RuleMatch(
                        found.path,
                        f"{found.logical_id} trusts {principal!r} for {found.actions}; "
                        f"only {service} may assume it",
                    )
                )
        return matches
