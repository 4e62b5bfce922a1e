"""Monitoring: alarms on function errors and throttles, table throttles, API errors, requests
refused because their tunnel was at its cap, and public requests answered 429 (counted by a
metric filter on the HTTP access log, in the routes stack: HTTP APIs have no 429 metric)."""

from troposphere import Ref
from tunnel_shared import capacity

from tunnel_infra.aws import apigatewayv2, cloudwatch, sns
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import FUNCTIONS, TABLES


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "alarms")
    key_arn = stack.data_key_parameter()
    websocket_api = Ref(stack.parameter("WebSocketApiId", "Id of the agents' WebSocket API"))
    http_api = Ref(stack.parameter("HttpApiId", "Id of the public HTTP API"))
    alarm_settings = stack.settings.alarms
    actions = []
    if alarm_settings.create_topic:
        alarm_topic = sns.alarm_topic(stack, "AlarmTopic", key_arn)
        actions = [Ref(alarm_topic)]
        stack.output("AlarmTopicArn", Ref(alarm_topic), "Subscribe to receive alarms")
    elif alarm_settings.topic_arn:
        actions = [alarm_settings.topic_arn]

    for function in FUNCTIONS:
        name = Ref(
            stack.parameter(f"{function.title}FunctionName", f"The {function.name} function")
        )
        for metric in ("Errors", "Throttles"):
            cloudwatch.alarm(
                stack,
                f"{function.title}{metric}Alarm",
                f"{function.name}-{metric.lower()}",
                f"The {function.name} function reports {metric.lower()}",
                "AWS/Lambda",
                metric,
                {"FunctionName": name},
                actions,
            )

    cloudwatch.alarm(
        stack,
        "TunnelRejectionsAlarm",
        "tunnel-rejections",
        "Requests were refused (429) because their tunnel had its cap in flight",
        capacity.METRIC_NAMESPACE,
        capacity.REJECTIONS_METRIC,
        {"Environment": stack.environment},
        actions,
    )

    cloudwatch.alarm(
        stack,
        "PublicThrottledAlarm",
        "public-throttled",
        "Public requests were answered 429: throttled by the HTTP stage, or their tunnel at its "
        "cap (tunnel-rejections tells which)",
        capacity.METRIC_NAMESPACE,
        apigatewayv2.throttled_metric(stack),
        {},
        actions,
    )

    for table in TABLES:
        name = Ref(stack.parameter(table.parameter, f"The {table.key} table"))
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
            cloudwatch.alarm(
                stack,
                f"{table.title}{metric}Alarm",
                f"{table.key}-{metric.lower().removesuffix('events')}s",
                f"Requests to the {table.key} table are throttled ({metric})",
                "AWS/DynamoDB",
                metric,
                {"TableName": name},
                actions,
            )

    for logical_id, name, api, stage, metric, description in (
        (
            "Http5xxAlarm",
            "http-5xx",
            http_api,
            apigatewayv2.HTTP_STAGE,
            "5xx",
            "The public HTTP API answers 5xx",
        ),
        (
            "WebSocketIntegrationErrorAlarm",
            "ws-integration-errors",
            websocket_api,
            stack.environment,
            "IntegrationError",
            "A WebSocket route's function failed",
        ),
        (
            "WebSocketExecutionErrorAlarm",
            "ws-execution-errors",
            websocket_api,
            stack.environment,
            "ExecutionError",
            "The WebSocket API failed to run a route",
        ),
    ):
        cloudwatch.alarm(
            stack,
            logical_id,
            name,
            description,
            "AWS/ApiGateway",
            metric,
            {"ApiId": api, "Stage": stage},
            actions,
        )
    return stack.render()
