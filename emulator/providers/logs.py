"""AWS::Logs::MetricFilter provider backed by moto's logs backend.

moto 5.2.5 has no CloudFormation model for metric filters: a stack's filters were skipped, and
``describe_metric_filters`` showed none. Here they go through ``put_metric_filter``, after the
rule AWS applies (aws_fidelity.rules.check_metric_filter_log_group): the group must exist.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.logs.models import LogsBackend, logs_backends

from aws_fidelity import rules

from .base import Properties, ProviderResource


def _backend(account_id: str, region_name: str) -> LogsBackend:
    return logs_backends[account_id][region_name]


def _transformations(properties: Properties) -> list[dict[str, Any]]:
    """CloudFormation's MetricTransformations as the API's metricTransformations."""
    out = []
    for t in properties.get("MetricTransformations") or []:
        item = {
            "metricName": t["MetricName"],
            "metricNamespace": t["MetricNamespace"],
            "metricValue": t["MetricValue"],
        }
        if t.get("DefaultValue") is not None:
            item["defaultValue"] = float(t["DefaultValue"])
        if t.get("Unit"):
            item["unit"] = t["Unit"]
        if t.get("Dimensions"):
            item["dimensions"] = {d["Key"]: d["Value"] for d in t["Dimensions"]}
        out.append(item)
    return out


class LogsMetricFilter(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::Logs::MetricFilter"
    NAME_PROPERTY = "FilterName"
    REPLACE_ON = frozenset({"FilterName", "LogGroupName"})

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def _put(self) -> None:
        backend = _backend(self.account_id, self.region_name)
        group = str(self.properties["LogGroupName"])
        rules.check_metric_filter_log_group(group in backend.groups)
        backend.delete_metric_filter(self.name, group)  # PutMetricFilter replaces
        backend.put_metric_filter(
            self.name,
            str(self.properties.get("FilterPattern") or ""),
            group,
            _transformations(self.properties),  # type: ignore[arg-type]
        )

    def create(self) -> None:
        self._put()

    def apply_update(self, old: Properties) -> None:
        self._put()

    def destroy(self) -> None:
        _backend(self.account_id, self.region_name).delete_metric_filter(
            self.name, str(self.properties["LogGroupName"])
        )
