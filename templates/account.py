"""Account: what API Gateway needs once per AWS account and region before any stage logs.

WebSocket stages write access logs with the account's CloudWatch role; until it is set,
creating such a stage fails and the routes stack rolls back. Every environment's routes stack
depends on this stack, so ``sceptre launch dev`` on a fresh account creates it first.
"""

from troposphere import GetAtt

from tunnel_infra.aws import apigateway, iam
from tunnel_infra.blueprint import Blueprint


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.for_account("API Gateway's CloudWatch Logs role for this account and region")
    logging_role = iam.api_gateway_logging_role(stack, "ApiGatewayLoggingRole")
    apigateway.account_logging(stack, "ApiGatewayAccount", logging_role)
    stack.output(
        "ApiGatewayCloudWatchRoleArn",
        GetAtt(logging_role, "Arn"),
        "The role API Gateway writes logs with (account setting cloudwatchRoleArn)",
    )
    return stack.render()
