"""E9007: the account's API Gateway CloudWatch role writes logs of its account and region only.

API Gateway uses one role for every API in the region and creates execution-log groups itself,
so the role cannot name this project's groups. It may hold exactly the actions of the managed
policy AmazonAPIGatewayPushToCloudWatchLogs, on ``log-group:*`` of its own account and region
(and their streams), never on ``*``.
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from tunnel_infra.iam_statements import (
    IDENTITY,
    api_gateway_logging_roles,
    literal_text,
    policy_statements,
)

ALLOWED_ACTIONS = frozenset(
    {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
        "logs:FilterLogEvents",
        "logs:GetLogEvents",
        "logs:PutLogEvents",
    }
)
OWN_LOG_GROUPS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"


class ApiGatewayLoggingRoleScope(CloudFormationLintRule):
    id = "E9007"
    shortdesc = "API Gateway's logging role stays in its account and region"
    description = (
        "The role an AWS::ApiGateway::Account names allows only API Gateway's logging actions, "
        "on this account's and region's log groups"
    )
    tags = ["iam", "least-privilege", "logs"]

    def match(self, cfn):  # noqa: ANN001, ANN201 - cfn-lint's signature
        logging_roles = api_gateway_logging_roles(cfn.template)
        matches = []
        for found in policy_statements(cfn.template):
            # Its inline policies and any separate policy attached to it.
            if found.kind != IDENTITY or not logging_roles & set(found.attached_to):
                continue
            if not found.allows:
                continue
            extra = sorted(str(a) for a in found.actions if a not in ALLOWED_ACTIONS)
            if extra:
                matches.append(
                    RuleMatch(
                        [*found.path, "Action"],
                        f"{found.logical_id} allows {extra}; API Gateway's logging role may "
                        f"allow only {sorted(ALLOWED_ACTIONS)}",
                    )
                )
            for resource in found.resources:
                if not (
                    isinstance(resource, dict) and literal_text(resource).startswith(OWN_LOG_GROUPS)
                ):
                    matches.append(
                        RuleMatch(
                            [*found.path, "Resource"],
                            f"{found.logical_id} allows logs actions on {resource!r}, not on a "
                            f"log group of its own account and region ({OWN_LOG_GROUPS}*)",
                        )
                    )
        return matches
