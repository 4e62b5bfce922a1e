"""AWS::CloudWatch::Alarm and AWS::CloudWatch::Dashboard providers backed by moto's cloudwatch
backend.

moto 5.2.5 models only AWS::CloudWatch::Dashboard in CloudFormation; alarms in a
stack were skipped. Here they go through ``put_metric_alarm`` (which also
overwrites on update, as PutMetricAlarm does), so ``describe_alarms`` sees them.
moto's own dashboard model stores any body and drops the tags; here a dashboard's body is
checked as PutDashboard checks it (aws_fidelity.rules.check_dashboard_body) and its tags kept.
"""

from __future__ import annotations

from typing import Any

from moto.cloudwatch.models import (
    CloudWatchBackend,
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.core.common_models import CloudFormationModel

from aws_fidelity import rules

from .base import Properties, ProviderResource, tags_as_list


def _backend(account_id: str, region_name: str) -> CloudWatchBackend:
    return cloudwatch_backends[account_id][region_name]


def _metric_queries(metrics: list[dict[str, Any]] | None) -> list[MetricDataQuery] | None:
    """CloudFormation's Metrics (metric math) -> moto's objects, as moto's
    PutMetricAlarm handler builds them."""
    if not metrics:
        return None
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat")
        metric_stat = None
        if stat:
            inner = stat["Metric"]
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=inner.get("MetricName"),
                    namespace=inner.get("Namespace"),
                    dimensions=[
                        Dimension(d.get("Name"), d.get("Value"))
                        for d in inner.get("Dimensions", [])
                    ],
                ),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=metric["Id"],
                label=metric.get("Label"),
                period=metric.get("Period"),
                return_data=metric.get("ReturnData"),
                expression=metric.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


def _optional_int(value: Any) -> int | None:
    return int(value) if value is not None else None


class CloudWatchAlarm(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"
    ATTRIBUTES = {"Arn": "arn"}
    REPLACE_ON = frozenset({"AlarmName"})

    arn: str

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def _put(self) -> None:
        p = self.properties
        backend = _backend(self.account_id, self.region_name)
        threshold = p.get("Threshold")
        actions_enabled = p.get("ActionsEnabled", True)
        alarm = backend.put_metric_alarm(
            name=self.name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=_optional_int(p.get("Period")),
            threshold=float(threshold) if threshold is not None else None,
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            metric_data_queries=_metric_queries(p.get("Metrics")),
            datapoints_to_alarm=_optional_int(p.get("DatapointsToAlarm")),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"),
            # Template booleans may be the strings "true"/"false".
            actions_enabled=str(actions_enabled).lower() == "true",
            treat_missing_data=p.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=p.get("ThresholdMetricId"),
        )
        self.arn = alarm.alarm_arn
        # put_metric_alarm only adds tags; make them match the template exactly.
        backend.tagger.delete_all_tags_for_resource(self.arn)
        backend.tagger.tag_resource(self.arn, tags_as_list(p.get("Tags")))

    def create(self) -> None:
        self._put()

    def apply_update(self, old: Properties) -> None:
        self._put()

    def destroy(self) -> None:
        backend = _backend(self.account_id, self.region_name)
        backend.delete_alarms([self.name])
        backend.tagger.delete_all_tags_for_resource(self.arn)


class CloudWatchDashboard(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::CloudWatch::Dashboard"
    NAME_PROPERTY = "DashboardName"
    REPLACE_ON = frozenset({"DashboardName"})

    def __init__(
        self, name: str, properties: Properties, account_id: str, region_name: str
    ) -> None:
        # moto finds a type's name property on the first model of that type, its own
        # Dashboard, which declares none: the stack's generated name would win.
        super().__init__(
            properties.get("DashboardName") or name, properties, account_id, region_name
        )

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def _put(self) -> None:
        body = self.properties["DashboardBody"]
        rules.check_dashboard_body(body)
        backend = _backend(self.account_id, self.region_name)
        dashboard = backend.put_dashboard(self.name, body)
        backend.tagger.delete_all_tags_for_resource(dashboard.arn)
        backend.tagger.tag_resource(dashboard.arn, tags_as_list(self.properties.get("Tags")))

    def create(self) -> None:
        self._put()

    def apply_update(self, old: Properties) -> None:
        self._put()

    def destroy(self) -> None:
        backend = _backend(self.account_id, self.region_name)
        dashboard = backend.dashboards.pop(self.name, None)
        if dashboard is not None:
            backend.tagger.delete_all_tags_for_resource(dashboard.arn)
