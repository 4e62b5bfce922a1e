"""What an environment's monitoring watches, declared once: each metric, the alarms on some of
them and the dashboard's graphs are all built from these declarations (templates/monitoring.py
renders both).

The ids come in as the monitoring stack's parameters (``!stack_output`` in
config/<env>/monitoring.yaml). The REST API of a custom domain is the exception: its metrics are
keyed by the API's name and stage (``ApiName``, ``Stage``), which the templates fix
(tunnel_infra.aws.apigateway), so they are derived, not passed.

There is no gauge of connected agents in AWS: the WebSocket API counts connects
(``ConnectCount``), and the disconnect function's ``Invocations`` count the connections that
ended. The dashboard shows both, side by side; the difference over a window is the change in
connected agents, not their number.

Sources (metric names, dimensions and statistics):
"Types of metrics for Lambda functions",
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html;
"Monitoring concurrency" (``ConcurrentExecutions`` for every function, read as MAX),
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html;
"Monitor CloudWatch metrics for HTTP APIs in API Gateway",
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html;
"Monitor WebSocket API execution with CloudWatch metrics",
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-logging.html;
"Amazon API Gateway dimensions and metrics" (REST: ``ApiName``, ``Stage``),
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html;
"DynamoDB Metrics and dimensions",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Ref
from tunnel_shared import capacity

from tunnel_infra.aws import apigateway, apigatewayv2
from tunnel_infra.aws.cloudwatch import Graph, Metric, Watched
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import FUNCTIONS, TABLES

LAMBDA = "AWS/Lambda"
API_GATEWAY = "AWS/ApiGateway"
DYNAMODB = "AWS/DynamoDB"
FUNCTION_ALARMS = ("Errors", "Throttles")
TABLE_THROTTLES = ("ReadThrottleEvents", "WriteThrottleEvents")


@dataclass(frozen=True)
class Monitoring:
    """An environment's alarms and dashboard graphs, from one set of metric declarations."""

    alarms: tuple[Watched, ...]
    graphs: tuple[Graph, ...]


def declare(stack: Blueprint) -> Monitoring:
    """The monitoring stack's parameters, and what it watches through them."""
    environment = stack.environment
    websocket_api = Ref(stack.parameter("WebSocketApiId", "Id of the agents' WebSocket API"))
    http_api = Ref(stack.parameter("HttpApiId", "Id of the public HTTP API"))
    function_names = {
        function.name: Ref(
            stack.parameter(f"{function.title}FunctionName", f"The {function.name} function")
        )
        for function in FUNCTIONS
    }
    table_names = {
        table.key: Ref(stack.parameter(table.parameter, f"The {table.key} table"))
        for table in TABLES
    }

    def function_metric(function: str, name: str, stat: str = "Sum", label: str = "") -> Metric:
        dimensions = {"FunctionName": function_names[function]}
        return Metric(LAMBDA, name, dimensions, stat, label or function)

    def http(name: str, label: str) -> Metric:
        stage = apigatewayv2.HTTP_STAGE
        return Metric(API_GATEWAY, name, {"ApiId": http_api, "Stage": stage}, label=label)

    def websocket(name: str, label: str) -> Metric:
        stage = {"ApiId": websocket_api, "Stage": environment}
        return Metric(API_GATEWAY, name, stage, label=label)

    def tunnel(name: str, stat: str = "Sum", label: str = "") -> Metric:
        dimensions = {"Environment": environment}
        return Metric(capacity.METRIC_NAMESPACE, name, dimensions, stat, label)

    rejections = tunnel(capacity.REJECTIONS_METRIC, label="429: tunnel at its cap")
    # A metric filter's metric has no dimensions (routes: HttpThrottledFilter, RestThrottledFilter).
    throttled = Metric(
        capacity.METRIC_NAMESPACE, apigatewayv2.throttled_metric(stack), label="429: all"
    )
    http_5xx = http("5xx", "HTTP API 5xx")
    ws_integration_errors = websocket("IntegrationError", "integration errors")
    ws_execution_errors = websocket("ExecutionError", "execution errors")

    alarms = [
        Watched(
            f"{function.title}{name}Alarm",
            f"{function.name}-{name.lower()}",
            f"The {function.name} function reports {name.lower()}",
            function_metric(function.name, name),
        )
        for function in FUNCTIONS
        for name in FUNCTION_ALARMS
    ]
    alarms += [
        Watched(
            "TunnelRejectionsAlarm",
            "tunnel-rejections",
            "Requests were refused (429) because their tunnel had its cap in flight",
            rejections,
        ),
        Watched(
            "PublicThrottledAlarm",
            "public-throttled",
            "Public requests were answered 429: throttled by the HTTP stage, or their tunnel at "
            "its cap (tunnel-rejections tells which)",
            throttled,
        ),
    ]
    table_throttles = {
        (table.key, name): Metric(
            DYNAMODB, name, {"TableName": table_names[table.key]}, label=f"{table.key} {name}"
        )
        for table in TABLES
        for name in TABLE_THROTTLES
    }
    alarms += [
        Watched(
            f"{table.title}{name}Alarm",
            f"{table.key}-{name.lower().removesuffix('events')}s",
            f"Requests to the {table.key} table are throttled ({name})",
            table_throttles[table.key, name],
        )
        for table in TABLES
        for name in TABLE_THROTTLES
    ]
    alarms += [
        Watched("Http5xxAlarm", "http-5xx", "The public HTTP API answers 5xx", http_5xx),
        Watched(
            "WebSocketIntegrationErrorAlarm",
            "ws-integration-errors",
            "A WebSocket route's function failed",
            ws_integration_errors,
        ),
        Watched(
            "WebSocketExecutionErrorAlarm",
            "ws-execution-errors",
            "The WebSocket API failed to run a route",
            ws_execution_errors,
        ),
    ]

    requests = [http("Count", "HTTP API")]
    answers = [http("4xx", "HTTP API 4xx"), http_5xx]
    if stack.settings.custom_domain.enabled:
        # The domain's public edge: REST metrics are keyed by the API's name and stage.
        rest = {"ApiName": apigateway.rest_api_name(stack), "Stage": environment}
        requests.append(Metric(API_GATEWAY, "Count", rest, label="REST API (domain)"))
        answers += [
            Metric(API_GATEWAY, "4XXError", rest, label="REST API 4xx"),
            Metric(API_GATEWAY, "5XXError", rest, label="REST API 5xx"),
        ]
    answers += [throttled, rejections]

    graphs = [
        Graph("Public requests", tuple(requests)),
        Graph("Public 4xx, 5xx and 429s", tuple(answers)),
        Graph(
            "Time the tunnel adds (ms)",
            (
                tunnel(capacity.ADDED_TIME_METRIC, "p50", "p50"),
                tunnel(capacity.ADDED_TIME_METRIC, "p99", "p99"),
            ),
        ),
        Graph(
            "Agents connecting and leaving",
            (
                websocket("ConnectCount", "connects"),
                function_metric("disconnect", "Invocations", label="disconnects"),
            ),
        ),
        Graph(
            "WebSocket messages and errors",
            (websocket("MessageCount", "messages"), ws_integration_errors, ws_execution_errors),
        ),
        Graph("Function errors", tuple(function_metric(f.name, "Errors") for f in FUNCTIONS)),
        Graph("Function throttles", tuple(function_metric(f.name, "Throttles") for f in FUNCTIONS)),
        Graph(
            "Function duration p99 (ms)",
            tuple(function_metric(f.name, "Duration", "p99") for f in FUNCTIONS),
        ),
        Graph(
            "Function concurrency (max)",
            tuple(function_metric(f.name, "ConcurrentExecutions", "Maximum") for f in FUNCTIONS),
        ),
        Graph("DynamoDB throttles", tuple(table_throttles.values())),
    ]
    return Monitoring(tuple(alarms), tuple(graphs))
