"""Lambda: functions deployed from S3 zips, and the permissions that let API Gateway invoke them."""

from __future__ import annotations

from troposphere import AWSHelperFn, GetAtt, Ref
from troposphere.awslambda import (
    Code,
    Environment,
    LoggingConfig,
    Permission,
    TracingConfig,
)
from troposphere.awslambda import Function as LambdaFunction
from troposphere.iam import Role
from troposphere.logs import LogGroup
from tunnel_shared import limits

from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import Function
from tunnel_infra.suppressions import skip_checkov

RUNTIME = "python3.12"
HANDLER = "handler.handler"
# Python does not stream natively in Lambda: a function that streams ships this script, which
# starts the managed runtime's interpreter on tunnel_shared.streaming_runtime instead
# ("Modifying the runtime environment": AWS_LAMBDA_EXEC_WRAPPER; the zip unpacks in /var/task).
EXEC_WRAPPER = "/var/task/exec_wrapper"


def function(
    stack: Blueprint,
    declared: Function,
    role: Role,
    log_group: LogGroup,
    code: Code,
    key_arn: AWSHelperFn | None,
    public_url_format: AWSHelperFn | str,
) -> LambdaFunction:
    settings = stack.settings
    variables = {"ENVIRONMENT": stack.environment}
    for target in declared.targets:
        variables[target.environment_variable] = target.environment_value(stack.environment)
    if declared.public_url:
        variables["PUBLIC_URL_FORMAT"] = public_url_format
    if declared.fair_share:
        variables["IN_FLIGHT_PER_TUNNEL"] = str(settings.throttling.tunnel_in_flight)
    streams = declared.streams and settings.custom_domain.enabled
    if streams:
        variables["AWS_LAMBDA_EXEC_WRAPPER"] = EXEC_WRAPPER
    resource = LambdaFunction(
        f"{declared.title}Function",
        FunctionName=stack.name(declared.name),
        Description=declared.description,
        Runtime=RUNTIME,
        Handler=HANDLER,
        Code=code,
        Role=GetAtt(role, "Arn"),
        Architectures=[settings.architecture],
        MemorySize=settings.memory_mb,
        Timeout=limits.STREAM_MAX_SECONDS if streams else declared.timeout_seconds,
        TracingConfig=TracingConfig(Mode="Active" if settings.tracing else "PassThrough"),
        LoggingConfig=LoggingConfig(LogGroup=Ref(log_group)),
        Environment=Environment(Variables=variables),
    )
    reserved = settings.reserved_concurrency.get(declared.name)
    if reserved is not None:
        resource.ReservedConcurrentExecutions = reserved
    else:
        skip_checkov(
            resource, "CKV_AWS_115", "Unreserved: reservations must leave 100 in the account"
        )
    if key_arn is not None:
        resource.KmsKeyArn = key_arn
    else:
        skip_checkov(
            resource, "CKV_AWS_173", "Variables hold resource names only; a CMK where enabled"
        )
    skip_checkov(resource, "CKV_AWS_117", "Reaches only AWS APIs; a VPC would add NAT for nothing")
    skip_checkov(
        resource, "CKV_AWS_116", "Invoked synchronously by API Gateway, so a DLQ never receives"
    )
    return stack.add(resource)


def invoke_permission(
    stack: Blueprint, logical_id: str, function_arn: AWSHelperFn, source_arn: AWSHelperFn
) -> Permission:
    """Let API Gateway invoke a function, from one API's route (or authorizer) only."""
    return stack.add(
        Permission(
            logical_id,
            Action="lambda:InvokeFunction",
            FunctionName=function_arn,
            Principal="apigateway.amazonaws.com",
            SourceArn=source_arn,
            SourceAccount=Ref("AWS::AccountId"),
        )
    )
