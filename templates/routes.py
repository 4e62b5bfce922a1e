"""Routes: the WebSocket routes and the HTTP catch-all, wired to the functions, on staged APIs.

agent --wss--> $connect (authorizer: ?token=)  -> connect
               $disconnect                     -> disconnect
               $default (ready, response)      -> response
public --https--> $default (payload 2.0, 29 s) -> forwarding
"""

from troposphere import Ref

from tunnel_infra.aws import apigatewayv2, awslambda, logs
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import FUNCTIONS

TOKEN_SOURCE = "route.request.querystring.token"


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "API routes, integrations and stages")
    key_arn = stack.data_key_parameter()
    websocket_api = Ref(stack.parameter("WebSocketApiId", "Id of the agents' WebSocket API"))
    http_api = Ref(stack.parameter("HttpApiId", "Id of the public HTTP API"))
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
    for route_key, function_name, authorizer in (
        ("$connect", "connect", token_authorizer),
        ("$disconnect", "disconnect", None),
        ("$default", "response", None),
    ):
        title = function_name.capitalize()
        integration = apigatewayv2.lambda_integration(
            stack, f"{title}Integration", websocket_api, arn[function_name]
        )
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
        stack, "WebSocketDeployment", websocket_api, websocket_routes
    )
    websocket_access_log = logs.log_group(
        stack, "WebSocketAccessLog", f"/aws/apigateway/{stack.name('ws-access')}", key_arn
    )
    apigatewayv2.stage(
        stack, "WebSocketStage", websocket_api, websocket_access_log, websocket_deployment
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
        apigatewayv2.route_source_arn(http_api, stack.environment, "$default"),
    )
    http_access_log = logs.log_group(
        stack, "HttpAccessLog", f"/aws/apigateway/{stack.name('http-access')}", key_arn
    )
    http_stage = apigatewayv2.stage(stack, "HttpStage", http_api, http_access_log)

    stack.output("HttpStageName", Ref(http_stage), "Stage of the public HTTP API")
    return stack.render()
