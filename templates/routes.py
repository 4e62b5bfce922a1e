"""Routes: the WebSocket routes and the HTTP catch-all, wired to the functions, on staged APIs.

agent --wss--> $connect (authorizer: ?token=)  -> connect
               $disconnect                     -> disconnect
               $default (ready, response)      -> response
public --https--> $default (payload 2.0, 29 s) -> forwarding; its 429s counted from the access log
with a custom domain, the domain maps the REST API instead (the HTTP API stays, unmapped):
public --https--> [WAF, where set] REST / and /{proxy+} ANY (v1, STREAM, 15 min) -> forwarding
forwarding --wss--> answers $connect (AWS_IAM)  -> MOCK (accepts, invokes nothing)
                    answers whoami              -> response (posts `you` back)
"""

from troposphere import GetAtt, Ref, Sub
from tunnel_shared import capacity

from tunnel_infra.aws import apigateway, apigatewayv2, awslambda, logs, wafv2
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import FUNCTIONS

TOKEN_SOURCE = "route.request.querystring.token"


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "API routes, integrations and stages")
    key_arn = stack.data_key_parameter()
    websocket_api = Ref(stack.parameter("WebSocketApiId", "Id of the agents' WebSocket API"))
    http_api = Ref(stack.parameter("HttpApiId", "Id of the public HTTP API"))
    answers_api = Ref(stack.parameter("AnswersApiId", "Id of the internal answers API"))
    arn = {
        f.name: Ref(stack.parameter(f"{f.title}FunctionArn", f"ARN of the {f.name} function"))
        for f in FUNCTIONS
    }

    # Agents: the WebSocket API.
    token_authorizer = apigatewayv2.request_authorizer(
        stack, "TokenAuthorizer", websocket_api, arn["authorizer"], TOKEN_SOURCE
    )
    awslambda.invoke_permission(
        stack,
        "TokenAuthorizerPermission",
        arn["authorizer"],
        apigatewayv2.authorizer_source_arn(websocket_api, token_authorizer),
    )
    websocket_routes = []
    websocket_integrations = []
    for route_key, function_name, authorizer in (
        ("$connect", "connect", token_authorizer),
        ("$disconnect", "disconnect", None),
        ("$default", "response", None),
    ):
        title = function_name.capitalize()
        integration = apigatewayv2.lambda_integration(
            stack,
            f"{title}Integration",
            websocket_api,
            arn[function_name],
            # 29 s at most (the default); said here, so it shows in review.
            timeout_ms=apigatewayv2.WEBSOCKET_INTEGRATION_TIMEOUT_MS,
        )
        websocket_integrations.append(integration)
        websocket_routes.append(
            apigatewayv2.route(
                stack, f"{title}Route", websocket_api, route_key, integration, authorizer
            )
        )
        awslambda.invoke_permission(
            stack,
            f"{title}Permission",
            arn[function_name],
            apigatewayv2.route_source_arn(websocket_api, stack.environment, route_key),
        )
    websocket_deployment = apigatewayv2.deployment(
        stack,
        "WebSocketDeployment",
        websocket_api,
        websocket_routes,
        served=[*websocket_integrations, token_authorizer],
    )
    websocket_access_log = logs.log_group(
        stack, "WebSocketAccessLog", apigatewayv2.websocket_access_log_name(stack), key_arn
    )
    throttling = stack.settings.throttling
    # Needs the account's API Gateway CloudWatch role (the account stack, a dependency).
    # Agents' messages have limits of their own, sized from the public ones (each public request
    # costs an agent message), and $connect its own, so a reconnect loop spends neither.
    apigatewayv2.stage(
        stack,
        "WebSocketStage",
        websocket_api,
        stack.environment,
        websocket_access_log,
        apigatewayv2.WEBSOCKET_ACCESS_LOG_FIELDS,
        throttling.agent_messages,
        websocket_deployment,
        route_throttles={
            "$connect": throttling.agent_connects,
            "$default": throttling.agent_messages,
        },
    )

    # Forwarding's own sockets: the answers API. $connect is IAM-authorized (forwarding's role
    # may Invoke it) and MOCK: no function runs per connect. whoami tells a socket its id.
    answers_connect, answers_connect_response = apigatewayv2.mock_integration(
        stack, "AnswersConnectIntegration", answers_api
    )
    whoami_integration = apigatewayv2.lambda_integration(
        stack,
        "WhoamiIntegration",
        answers_api,
        arn["response"],
        timeout_ms=apigatewayv2.WEBSOCKET_INTEGRATION_TIMEOUT_MS,
    )
    answers_routes = [
        apigatewayv2.route(
            stack, "AnswersConnectRoute", answers_api, "$connect", answers_connect, iam=True
        ),
        apigatewayv2.route(stack, "WhoamiRoute", answers_api, "whoami", whoami_integration),
    ]
    awslambda.invoke_permission(
        stack,
        "WhoamiPermission",
        arn["response"],
        apigatewayv2.route_source_arn(answers_api, stack.environment, "whoami"),
    )
    answers_deployment = apigatewayv2.deployment(
        stack,
        "AnswersDeployment",
        answers_api,
        answers_routes,
        served=[answers_connect, answers_connect_response, whoami_integration],
    )
    answers_access_log = logs.log_group(
        stack, "AnswersAccessLog", apigatewayv2.answers_access_log_name(stack), key_arn
    )
    apigatewayv2.stage(
        stack,
        "AnswersStage",
        answers_api,
        stack.environment,
        answers_access_log,
        apigatewayv2.WEBSOCKET_ACCESS_LOG_FIELDS,
        throttling.answer_channel,
        answers_deployment,
    )

    # The public: the HTTP API.
    forwarding_integration = apigatewayv2.lambda_integration(
        stack,
        "ForwardingIntegration",
        http_api,
        arn["forwarding"],
        payload_format="2.0",
        timeout_ms=apigatewayv2.HTTP_INTEGRATION_TIMEOUT_MS,
    )
    apigatewayv2.route(stack, "ForwardingRoute", http_api, "$default", forwarding_integration)
    awslambda.invoke_permission(
        stack,
        "ForwardingPermission",
        arn["forwarding"],
        apigatewayv2.route_source_arn(http_api, apigatewayv2.HTTP_STAGE, "$default"),
    )
    http_access_log = logs.log_group(
        stack, "HttpAccessLog", apigatewayv2.http_access_log_name(stack), key_arn
    )
    # Its 429s become a metric (monitoring alarms on it): here, where the log group is made.
    logs.metric_filter(
        stack,
        "HttpThrottledFilter",
        http_access_log,
        apigatewayv2.THROTTLED_PATTERN,
        capacity.METRIC_NAMESPACE,
        apigatewayv2.throttled_metric(stack),
    )
    # $default: the caller's path reaches forwarding without a stage prefix.
    http_stage = apigatewayv2.stage(
        stack,
        "HttpStage",
        http_api,
        apigatewayv2.HTTP_STAGE,
        http_access_log,
        apigatewayv2.HTTP_ACCESS_LOG_FIELDS,
        throttling.public_requests,
    )

    stack.output("HttpStageName", Ref(http_stage), "Stage of the public HTTP API")

    # The public, where a custom domain is set: the REST API, whose responses stream.
    if stack.settings.custom_domain.enabled:
        rest_api = apigateway.rest_api(stack, "RestApi")
        proxy = apigateway.proxy_resource(stack, "RestProxyResource", rest_api)
        methods = [
            apigateway.streaming_proxy_method(
                stack,
                "RestRootMethod",
                rest_api,
                GetAtt(rest_api, "RootResourceId"),
                arn["forwarding"],
            ),
            apigateway.streaming_proxy_method(
                stack, "RestProxyMethod", rest_api, Ref(proxy), arn["forwarding"]
            ),
        ]
        awslambda.invoke_permission(
            stack,
            "RestForwardingPermission",
            arn["forwarding"],
            apigateway.rest_source_arn(rest_api, stack.environment),
        )
        rest_deployment = apigateway.deployment(
            stack, "RestDeployment", rest_api, [proxy, *methods]
        )
        rest_access_log = logs.log_group(
            stack, "RestAccessLog", apigateway.rest_access_log_name(stack), key_arn
        )
        logs.metric_filter(
            stack,
            "RestThrottledFilter",
            rest_access_log,
            apigatewayv2.THROTTLED_PATTERN,
            capacity.METRIC_NAMESPACE,
            apigatewayv2.throttled_metric(stack),
        )
        rest_stage = apigateway.stage(
            stack,
            "RestStage",
            rest_api,
            rest_deployment,
            rest_access_log,
            throttling.public_requests,
        )
        if stack.settings.waf.enabled:
            # Fair shares at the edge: rate rules per client IP and per tunnel (its Host).
            wafv2.web_acl(
                stack,
                stack.settings,
                Sub(
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/"
                    "${Stage}",
                    Api=Ref(rest_api),
                    Stage=Ref(rest_stage),
                ),
            )
        stack.output("RestApiId", Ref(rest_api), "Id of the public REST API (the domain's)")
        stack.output("RestStageName", Ref(rest_stage), "Stage of the public REST API")
    return stack.render()
