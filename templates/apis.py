"""APIs: the WebSocket API agents connect to, the internal answers API (forwarding's own
sockets), and the public HTTP API.

They stand alone so that functions can name the WebSocket API in their roles (by id) before any
route points at a function: no cycle, and no second copy of an API.
"""

from troposphere import GetAtt, Ref, Sub

from tunnel_infra.aws import apigatewayv2
from tunnel_infra.blueprint import Blueprint


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "WebSocket and HTTP APIs")

    websocket_api = apigatewayv2.websocket_api(stack, "WebSocketApi")
    answers_api = apigatewayv2.answers_api(stack, "AnswersApi")
    http_api = apigatewayv2.http_api(stack, "HttpApi")

    stack.output("WebSocketApiId", Ref(websocket_api), "Id of the agents' WebSocket API")
    stack.output(
        "WebSocketUrl",
        Sub(f"${{Endpoint}}/{stack.environment}", Endpoint=GetAtt(websocket_api, "ApiEndpoint")),
        "URL agents connect to",
    )
    stack.output("AnswersApiId", Ref(answers_api), "Id of the internal answers API")
    stack.output(
        "AnswersUrl",
        Sub(f"${{Endpoint}}/{stack.environment}", Endpoint=GetAtt(answers_api, "ApiEndpoint")),
        "URL forwarding connects to (IAM-signed) for its answers",
    )
    stack.output("HttpApiId", Ref(http_api), "Id of the public HTTP API")
    stack.output(
        "HttpEndpoint",
        apigatewayv2.public_endpoint(stack.settings, http_api),
        "Where the public reaches the HTTP API",
    )
    stack.output(
        "PublicUrlFormat",
        apigatewayv2.public_url_format(stack.settings, Ref(http_api)),
        "A tunnel's public URL, {subdomain} filled in",
    )
    return stack.render()
