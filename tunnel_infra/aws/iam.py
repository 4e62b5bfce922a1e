"""IAM: one role per function, its policy derived from the function's declared grants; and the
account's API Gateway logging role."""

from __future__ import annotations

from awacs import kms, logs, xray
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from awacs.sts import AssumeRole
from troposphere import AWSHelperFn, GetAtt, Sub
from troposphere.iam import Policy, Role
from troposphere.logs import LogGroup

from tunnel_infra.access import Arn, Grant, policy_document
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import Function


def trusting(service: str) -> PolicyDocument:
    """A trust policy that lets one AWS service, and no one else, assume the role."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(Effect=Allow, Principal=Principal("Service", service), Action=[AssumeRole])
        ],
    )


def function_grants(
    stack: Blueprint, function: Function, log_group: LogGroup | None, key_arn: AWSHelperFn | None
) -> list[Grant]:
    """Everything the function's role allows: its declared grants plus what every function needs
    (``log_group`` None: an existing function's, whose log group is its owner's)."""
    grants = list(function.grants)
    if log_group is not None:
        # Its own log group only; the stack creates the group, so no logs:CreateLogGroup.
        grants.append(Arn(GetAtt(log_group, "Arn")).grant(logs.CreateLogStream, logs.PutLogEvents))
    if stack.settings.tracing:
        # X-Ray accepts no resource-level permissions for these two.
        grants.append(Arn("*").grant(xray.PutTraceSegments, xray.PutTelemetryRecords))
    if key_arn is not None:
        # Environment variables, table items and the secret are encrypted with this key.
        grants.append(Arn(key_arn).grant(kms.Decrypt))
    return grants


def function_role(
    stack: Blueprint, function: Function, log_group: LogGroup, key_arn: AWSHelperFn | None
) -> Role:
    grants = function_grants(stack, function, log_group, key_arn)
    return stack.add(
        Role(
            f"{function.title}Role",
            RoleName=stack.name(function.name),
            Description=f"Runs the {function.name} function; allows exactly its declared access",
            AssumeRolePolicyDocument=trusting("lambda.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName=f"{function.name}-access",
                    PolicyDocument=policy_document(grants, stack.environment),
                )
            ],
        )
    )


# What API Gateway does with the account's CloudWatch role: the actions of the managed policy
# AmazonAPIGatewayPushToCloudWatchLogs, listed here because managed policies are not used.
API_GATEWAY_LOGGING = (
    logs.CreateLogGroup,
    logs.CreateLogStream,
    logs.DescribeLogGroups,
    logs.DescribeLogStreams,
    logs.FilterLogEvents,
    logs.GetLogEvents,
    logs.PutLogEvents,
)


def api_gateway_logging_role(stack: Blueprint, logical_id: str) -> Role:
    """The role API Gateway writes every API's logs with, in this account and region.

    One role serves every API of the region and API Gateway creates execution-log groups
    itself, so it cannot be narrowed to this project's groups: it is narrowed to this account's
    and region's log groups, with exactly the managed policy's actions.
    """
    log_groups = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    return stack.add(
        Role(
            logical_id,
            Description="API Gateway writes access and execution logs of this region with it",
            AssumeRolePolicyDocument=trusting("apigateway.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName="api-gateway-logging",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            Statement(
                                Effect=Allow,
                                Action=list(API_GATEWAY_LOGGING),
                                Resource=[Sub(log_groups), Sub(f"{log_groups}:log-stream:*")],
                            )
                        ],
                    ),
                )
            ],
            # The account setting keeps naming the role after the stack is gone.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
