"""CloudWatch: alarms that notify the environment's topic, if it has one."""

from __future__ import annotations

from troposphere import AWSHelperFn
from troposphere.cloudwatch import Alarm, MetricDimension

from tunnel_infra.blueprint import Blueprint

PERIOD_SECONDS = 300


def alarm(
    stack: Blueprint,
    logical_id: str,
    name: str,
    description: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, AWSHelperFn | str],
    actions: list[AWSHelperFn | str],
    threshold: int = 1,
) -> Alarm:
    """Alarm when the metric's sum over five minutes reaches the threshold."""
    return stack.add(
        Alarm(
            logical_id,
            AlarmName=stack.name(name),
            AlarmDescription=description,
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[
                MetricDimension(Name=key, Value=value) for key, value in sorted(dimensions.items())
            ],
            Statistic="Sum",
            Period=PERIOD_SECONDS,
            EvaluationPeriods=1,
            Threshold=threshold,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
            AlarmActions=actions,
            OKActions=actions,
        )
    )
