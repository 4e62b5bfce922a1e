"""API Gateway (the account-level settings shared by REST, HTTP and WebSocket APIs)."""

from __future__ import annotations

from troposphere import GetAtt
from troposphere.apigateway import Account
from troposphere.iam import Role

from tunnel_infra.blueprint import Blueprint


def account_logging(stack: Blueprint, logical_id: str, role: Role) -> Account:
    """Set the account and region's CloudWatch role. A WebSocket stage with access logs cannot
    be created until it is set (``CloudWatch Logs role ARN must be set in account settings``)."""
    return stack.add(
        Account(
            logical_id,
            CloudWatchRoleArn=GetAtt(role, "Arn"),
            # Deleting the stack leaves the setting as it is (so does AWS::ApiGateway::Account).
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
