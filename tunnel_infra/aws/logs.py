"""CloudWatch Logs: log groups with retention, under the environment's key where enabled."""

from __future__ import annotations

from troposphere import AWSHelperFn, Ref
from troposphere.logs import LogGroup, MetricFilter, MetricTransformation

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


def metric_filter(
    stack: Blueprint,
    logical_id: str,
    group: LogGroup,
    pattern: str,
    namespace: str,
    metric: str,
) -> MetricFilter:
    """Count the group's events that match ``pattern`` as ``metric`` (1 each, 0 otherwise, so
    the alarm sees quiet periods as zero rather than missing)."""
    return stack.add(
        MetricFilter(
            logical_id,
            LogGroupName=Ref(group),
            FilterPattern=pattern,
            MetricTransformations=[
                MetricTransformation(
                    MetricNamespace=namespace, MetricName=metric, MetricValue="1", DefaultValue=0
                )
            ],
        )
    )
