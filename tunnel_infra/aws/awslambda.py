"""Lambda: functions deployed from S3 zips, and the permissions that let API Gateway invoke them."""

from __future__ import annotations

import json
from typing import Any

from awacs.aws import PolicyDocument
from troposphere import AWSHelperFn, BaseAWSObject, GetAtt, Ref, Sub
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
from tunnel_shared.protocol import PROTOCOL_TAG, PROTOCOL_VERSION

from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import Function
from tunnel_infra.settings import ExistingFunction
from tunnel_infra.suppressions import skip_checkov

RUNTIME = "python3.12"
HANDLER = "handler.handler"
# Python does not stream natively in Lambda: a function that streams ships this script, which
# starts the managed runtime's interpreter on tunnel_shared.streaming_runtime instead
# ("Modifying the runtime environment": AWS_LAMBDA_EXEC_WRAPPER; the zip unpacks in /var/task).
EXEC_WRAPPER = "/var/task/exec_wrapper"


def environment_variables(
    stack: Blueprint, declared: Function, public_url_format: AWSHelperFn | str
) -> dict[str, AWSHelperFn | str]:
    """What the function reads from its environment, derived from its grants and settings."""
    variables: dict[str, AWSHelperFn | str] = {"ENVIRONMENT": stack.environment}
    for target in declared.targets:
        variables[target.environment_variable] = target.environment_value(stack.environment)
    if declared.public_url:
        variables["PUBLIC_URL_FORMAT"] = public_url_format
    if declared.fair_share:
        variables["IN_FLIGHT_PER_TUNNEL"] = str(stack.settings.throttling.tunnel_in_flight)
    if streaming(stack, declared):
        variables["AWS_LAMBDA_EXEC_WRAPPER"] = EXEC_WRAPPER
    return variables


def streaming(stack: Blueprint, declared: Function) -> bool:
    """Whether it runs our streaming runtime (a custom domain's REST edge streams from it)."""
    return declared.streams and stack.settings.custom_domain.enabled


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
    variables = environment_variables(stack, declared, public_url_format)
    streams = streaming(stack, declared)
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
    # The handler contract it implements: an existing function in its place must carry the same.
    return stack.add(resource, extra_tags={PROTOCOL_TAG: PROTOCOL_VERSION})


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


def existing_function_needs(
    stack: Blueprint,
    declared: Function,
    existing: ExistingFunction,
    policy: PolicyDocument,
    public_url_format: AWSHelperFn | str,
) -> None:
    """Outputs that name an existing function in place of ours, and what its owner must give it:
    the environment our function would have and the policy our role would allow (its log group
    aside), as JSON for ``aws lambda update-function-configuration --environment`` and
    ``aws iam put-role-policy --policy-document``, resolved by CloudFormation."""
    stack.output(
        f"{declared.title}FunctionArn",
        existing.arn,
        f"{declared.description} (an existing function, not this stack's)",
    )
    stack.output(f"{declared.title}FunctionName", existing.name, f"{declared.name} (existing)")
    # tunnel logs reads it: Lambda's default group, "/aws/lambda/<function name>" (LoggingConfig,
    # Lambda API reference, https://docs.aws.amazon.com/lambda/latest/api/API_LoggingConfig.html);
    # a function whose LoggingConfig names another group logs there instead (README).
    stack.output(
        f"{declared.title}LogGroupName",
        default_log_group(existing.name),
        f"{declared.name} function's logs (existing, Lambda's default group)",
    )
    variables = environment_variables(stack, declared, public_url_format)
    stack.output(
        f"{declared.title}NeedsEnvironment",
        json_sub({"Variables": variables}),
        f"The environment {existing.name} needs, as ours would have it",
    )
    stack.output(
        f"{declared.title}NeedsPolicy",
        json_sub(policy),
        f"The policy {existing.name}'s role needs, as ours would allow (plus its own logs)",
    )
    if streaming(stack, declared):
        # A streaming edge runs our runtime loop for up to 15 minutes: the owner's to set too.
        stack.output(
            f"{declared.title}NeedsTimeout",
            str(limits.STREAM_MAX_SECONDS),
            f"The timeout {existing.name} needs where the REST edge streams from it",
        )


def default_log_group(function_name: str) -> str:
    """Where Lambda sends a function's logs unless its LoggingConfig names another group."""
    return f"/aws/lambda/{function_name}"


def json_sub(value: Any) -> Sub:
    """``value`` as JSON text in one Fn::Sub, each Ref and Fn::Sub inside it resolved in place."""
    plain = _as_sub_text(json.loads(json.dumps(value, default=_to_dict)))
    return Sub(json.dumps(plain, sort_keys=True, separators=(",", ":")))


def _to_dict(value: Any) -> Any:
    if isinstance(value, (AWSHelperFn, BaseAWSObject)):
        return value.to_dict()
    if hasattr(value, "JSONrepr"):
        return value.JSONrepr()
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def _as_sub_text(value: Any) -> Any:
    """Replace every ``{"Ref": X}`` by ``${X}`` and every ``{"Fn::Sub": s}`` by ``s``."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return f"${{{value['Ref']}}}"
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return value["Fn::Sub"]
        if any(key.startswith("Fn::") for key in value):
            raise ValueError(f"cannot inline {sorted(value)} in an output")
        return {key: _as_sub_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_sub_text(item) for item in value]
    if isinstance(value, str) and "${" in value:
        raise ValueError(f"a literal ${{ in {value!r} would be substituted")
    return value
