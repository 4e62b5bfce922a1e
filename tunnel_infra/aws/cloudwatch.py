"""CloudWatch: the metrics an environment watches, alarms on them that notify the environment's
topic (if it has one), and a dashboard that shows them.

A :class:`Metric` is declared once (tunnel_infra.monitored) and rendered two ways: as an alarm's
``Namespace``/``MetricName``/``Dimensions`` (ids as ``Ref``), and as a line of a dashboard
widget (ids as ``${Parameter}`` in the body's ``Fn::Sub``).

Sources: "Dashboard Body Structure and Syntax" (a body is a JSON string with a ``widgets``
array; metric widgets name ``region``; a metric is ``[namespace, name, dim, value, ...,
{rendering}]``; alarm status widgets list ``alarms`` by ARN),
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Dashboard-Body-Structure.html;
"AWS::CloudWatch::Dashboard" (``DashboardBody`` is a String; ``Ref`` is the name),
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-dashboard.html.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from troposphere import AWSHelperFn, Ref, Sub
from troposphere.cloudwatch import Alarm, Dashboard, MetricDimension

from tunnel_infra.blueprint import Blueprint

PERIOD_SECONDS = 300
# Two widgets a row on the dashboard's 24-column grid.
GRID_COLUMNS = 24
WIDGET_WIDTH = 12
WIDGET_HEIGHT = 6

DimensionValue = AWSHelperFn | str


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric: where it is, which of its series, and how it is read."""

    namespace: str
    name: str
    dimensions: dict[str, DimensionValue] = field(default_factory=dict)
    stat: str = "Sum"
    label: str = ""

    def alarm_dimensions(self) -> list[MetricDimension]:
        return [
            MetricDimension(Name=key, Value=value) for key, value in sorted(self.dimensions.items())
        ]

    def dashboard_line(self) -> list[Any]:
        """``[namespace, name, dim, value, ..., {stat, label}]``, values as Sub text."""
        line: list[Any] = [self.namespace, self.name]
        for key, value in sorted(self.dimensions.items()):
            line += [key, sub_text(value)]
        rendering = {"stat": self.stat}
        if self.label:
            rendering["label"] = _escaped(self.label)
        return [*line, rendering]


@dataclass(frozen=True)
class Watched:
    """An alarm on a metric: its logical id, its name (``http-tunnel-<name>-<env>``) and what
    it means."""

    logical_id: str
    name: str
    description: str
    metric: Metric


@dataclass(frozen=True)
class Graph:
    """A dashboard graph: its title and the metrics drawn on it."""

    title: str
    metrics: tuple[Metric, ...]


def sub_text(value: DimensionValue) -> str:
    """A value as ``Fn::Sub`` text: a parameter's ``Ref`` as ``${Name}``, a literal escaped."""
    if isinstance(value, Ref):
        return f"${{{value.data['Ref']}}}"
    if isinstance(value, str):
        return _escaped(value)
    raise TypeError(f"a dashboard names a parameter or a literal, not {value!r}")


def _escaped(text: str) -> str:
    # Fn::Sub reads "${" as a variable; "${!" is its literal "${".
    return text.replace("${", "${!")


def alarm(
    stack: Blueprint,
    watched: Watched,
    actions: list[AWSHelperFn | str],
    threshold: int = 1,
) -> Alarm:
    """Alarm when the metric's statistic over five minutes reaches the threshold."""
    metric = watched.metric
    return stack.add(
        Alarm(
            watched.logical_id,
            AlarmName=stack.name(watched.name),
            AlarmDescription=watched.description,
            Namespace=metric.namespace,
            MetricName=metric.name,
            Dimensions=metric.alarm_dimensions(),
            Statistic=metric.stat,
            Period=PERIOD_SECONDS,
            EvaluationPeriods=1,
            Threshold=threshold,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
            AlarmActions=actions,
            OKActions=actions,
        )
    )


def dashboard_body(graphs: list[Graph], alarms: list[Alarm]) -> str:
    """The body as ``Fn::Sub`` text: the graphs two a row, then every alarm's state."""
    widgets: list[dict[str, Any]] = []
    for index, graph in enumerate(graphs):
        widgets.append(
            {
                "type": "metric",
                "x": (index % 2) * WIDGET_WIDTH,
                "y": (index // 2) * WIDGET_HEIGHT,
                "width": WIDGET_WIDTH,
                "height": WIDGET_HEIGHT,
                "properties": {
                    "title": _escaped(graph.title),
                    "region": "${AWS::Region}",
                    "period": PERIOD_SECONDS,
                    "view": "timeSeries",
                    "stacked": False,
                    "metrics": [metric.dashboard_line() for metric in graph.metrics],
                },
            }
        )
    widgets.append(
        {
            "type": "alarm",
            "x": 0,
            "y": ((len(graphs) + 1) // 2) * WIDGET_HEIGHT,
            "width": GRID_COLUMNS,
            "height": WIDGET_HEIGHT,
            "properties": {
                "title": "Alarms",
                "alarms": sorted(f"${{{alarm.title}.Arn}}" for alarm in alarms),
            },
        }
    )
    return json.dumps({"widgets": widgets}, sort_keys=True, separators=(",", ":"))


def dashboard(
    stack: Blueprint, logical_id: str, name: str, graphs: list[Graph], alarms: list[Alarm]
) -> Dashboard:
    """The environment's dashboard, ``http-tunnel-<name>-<env>``."""
    return stack.add(
        Dashboard(
            logical_id,
            DashboardName=stack.name(name),
            DashboardBody=Sub(dashboard_body(graphs, alarms)),
        )
    )


def dashboard_url(dashboard: Dashboard) -> Sub:
    """The dashboard in the CloudWatch console of the stack's region."""
    return Sub(
        "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}"
        f"#dashboards:name=${{{dashboard.title}}}"
    )
