"""CloudWatch Logs: log groups with retention, under the environment's key where enabled."""

from __future__ import annotations

from troposphere import AWSHelperFn
from troposphere.logs import LogGroup

from tunnel_infra.blueprint import Blueprint
from tunnel_infra.suppressions import skip_checkov


def log_group(
    stack: Blueprint, logical_id: str, name: str, key_arn: AWSHelperFn | None = None
) -> LogGroup:
    group = LogGroup(
        logical_id,
        LogGroupName=name,
        RetentionInDays=stack.settings.log_retention_days,
        DeletionPolicy="Delete",
        UpdateReplacePolicy="Delete",
    )
    if key_arn is not None:
        group.KmsKeyId = key_arn
    else:
        skip_checkov(group, "CKV_AWS_158", "Encrypted by CloudWatch Logs; a CMK where enabled")
    return stack.add(group)
