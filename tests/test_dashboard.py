"""Every metric the dashboard and the alarms name is one that AWS or our functions emit.

AWS's metrics: the names documented per namespace and API kind (the table below, with its
sources). Ours (``capacity.METRIC_NAMESPACE``): what the EMF builders write, read from their
``_aws`` block, and what the routes stack's metric filters count.
"""

from __future__ import annotations

import json
import re

import pytest
from tunnel_shared import capacity

from tunnel_infra.render import ENVIRONMENTS

# "Types of metrics for Lambda functions",
# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html; "Monitoring
# concurrency", https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html.
LAMBDA = {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"}
# "Monitor CloudWatch metrics for HTTP APIs in API Gateway",
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html.
HTTP_API = {"4xx", "5xx", "Count", "IntegrationLatency", "Latency", "DataProcessed"}
# "Monitor WebSocket API execution with CloudWatch metrics",
# https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-logging.html.
WEBSOCKET_API = {
    "ConnectCount",
    "MessageCount",
    "IntegrationError",
    "ClientError",
    "ExecutionError",
    "IntegrationLatency",
}
# "Amazon API Gateway dimensions and metrics" (REST APIs, keyed by ApiName),
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html.
REST_API = {
    "4XXError",
    "5XXError",
    "CacheHitCount",
    "CacheMissCount",
    "Count",
    "IntegrationLatency",
    "Latency",
}
# "DynamoDB Metrics and dimensions",
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html.
DYNAMODB = {"ReadThrottleEvents", "WriteThrottleEvents", "ThrottledRequests", "SystemErrors"}

DOCUMENTED = {
    ("AWS/Lambda", "function"): LAMBDA,
    ("AWS/ApiGateway", "http"): HTTP_API,
    ("AWS/ApiGateway", "websocket"): WEBSOCKET_API,
    ("AWS/ApiGateway", "rest"): REST_API,
    ("AWS/DynamoDB", "table"): DYNAMODB,
}


def ours(templates: dict[str, dict], environment: str) -> set[tuple[str, str]]:
    """(namespace, metric) of what our code writes: the EMF builders' directives, and the
    routes stack's metric filters."""
    emitted = set()
    for fields in (
        capacity.rejection_metric(environment, 0),
        capacity.added_time_metric(environment, 1.0, 0),
    ):
        for directive in fields["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                assert metric["Name"] in fields  # its value sits at the root
                emitted.add((directive["Namespace"], metric["Name"]))
    for resource in templates[f"{environment}/routes"]["Resources"].values():
        if resource["Type"] == "AWS::Logs::MetricFilter":
            for transformation in resource["Properties"]["MetricTransformations"]:
                emitted.add((transformation["MetricNamespace"], transformation["MetricName"]))
    return emitted


def kind(namespace: str, dimensions: dict[str, str]) -> str:
    """Which table an AWS metric is checked against, by the ids it is keyed by."""
    if namespace == "AWS/Lambda":
        return "function"
    if namespace == "AWS/DynamoDB":
        return "table"
    if "ApiName" in dimensions:
        return "rest"
    return {"${HttpApiId}": "http", "${WebSocketApiId}": "websocket"}[dimensions["ApiId"]]


def unknown_metrics(
    named: list[tuple[str, str, dict[str, str]]], emitted: set[tuple[str, str]]
) -> list[str]:
    """The named metrics that nobody emits."""
    unknown = []
    for namespace, name, dimensions in named:
        if namespace.startswith("AWS/"):
            known = name in DOCUMENTED[namespace, kind(namespace, dimensions)]
        else:
            known = (namespace, name) in emitted
        if not known:
            unknown.append(f"{namespace} {name}")
    return unknown


def dashboard_metrics(template: dict) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, name, dimensions) of every metric line of the dashboard's graphs."""
    (dashboard,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
    named = []
    for widget in body["widgets"]:
        for line in widget["properties"].get("metrics", []):
            names = [part for part in line if isinstance(part, str)]
            namespace, name, *pairs = names
            named.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return named


def alarm_metrics(template: dict) -> list[tuple[str, str, dict[str, str]]]:
    named = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            p = resource["Properties"]
            dimensions = {
                d["Name"]: f"${{{d['Value']['Ref']}}}"
                if isinstance(d["Value"], dict)
                else d["Value"]
                for d in p["Dimensions"]
            }
            named.append((p["Namespace"], p["MetricName"], dimensions))
    return named


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_metric_the_dashboard_and_alarms_name_is_emitted(templates, environment):
    template = templates[f"{environment}/monitoring"]
    named = dashboard_metrics(template) + alarm_metrics(template)
    assert len(named) > 40
    assert unknown_metrics(named, ours(templates, environment)) == []


@pytest.mark.parametrize(
    ("namespace", "name", "dimensions"),
    [
        ("AWS/Lambda", "Error", {"FunctionName": "${ForwardingFunctionName}"}),
        ("AWS/ApiGateway", "5XXError", {"ApiId": "${HttpApiId}", "Stage": "$default"}),
        ("AWS/ApiGateway", "5xx", {"ApiName": "http-tunnel-rest-prod", "Stage": "prod"}),
        ("AWS/ApiGateway", "ConnectionCount", {"ApiId": "${WebSocketApiId}", "Stage": "dev"}),
        ("AWS/DynamoDB", "ReadThrottles", {"TableName": "${TokensTableName}"}),
        (capacity.METRIC_NAMESPACE, "TunnelAddedMs", {"Environment": "dev"}),
        (capacity.METRIC_NAMESPACE, "PublicThrottled-prod", {}),  # another environment's
    ],
)
def test_a_misspelt_or_misplaced_metric_is_refused(templates, namespace, name, dimensions):
    assert unknown_metrics([(namespace, name, dimensions)], ours(templates, "dev")) == [
        f"{namespace} {name}"
    ]


def test_every_alarm_is_on_the_dashboard_graphs_and_its_state(templates):
    for environment in ENVIRONMENTS:
        template = templates[f"{environment}/monitoring"]
        graphed = {json.dumps(m, sort_keys=True) for m in dashboard_metrics(template)}
        for metric in alarm_metrics(template):
            assert json.dumps(metric, sort_keys=True) in graphed, metric
        (dashboard,) = [
            r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
        ]
        shown = set(
            re.findall(r"\$\{(\w+)\.Arn\}", dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
        )
        alarms = {
            logical_id
            for logical_id, r in template["Resources"].items()
            if r["Type"] == "AWS::CloudWatch::Alarm"
        }
        assert shown == alarms


def test_only_a_domain_environment_graphs_the_rest_api(templates):
    kinds = {
        environment: {
            kind(ns, dims)
            for ns, _, dims in dashboard_metrics(templates[f"{environment}/monitoring"])
            if ns == "AWS/ApiGateway"
        }
        for environment in ENVIRONMENTS
    }
    assert kinds["prod"] == {"http", "websocket", "rest"}
    assert kinds["dev"] == {"http", "websocket"}
