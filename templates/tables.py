"""Tables: agent connections (with their subdomains' claims), requests waiting for a response,
and the tokens issued (so that one can be revoked)."""

from troposphere import Ref

from tunnel_infra.aws import dynamodb
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import CONNECTIONS, PENDING_REQUESTS, TOKENS


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "DynamoDB tables")
    key_arn = stack.data_key_parameter()

    # Routing reads a subdomain's claim item (claim#<subdomain>), never an index.
    connections_table = dynamodb.table(stack, CONNECTIONS, key_arn=key_arn)
    pending_requests_table = dynamodb.table(stack, PENDING_REQUESTS, key_arn=key_arn)
    tokens_table = dynamodb.table(stack, TOKENS, key_arn=key_arn)

    stack.output(CONNECTIONS.parameter, Ref(connections_table), "Agent connections")
    stack.output(PENDING_REQUESTS.parameter, Ref(pending_requests_table), "Requests in flight")
    stack.output(TOKENS.parameter, Ref(tokens_table), "Issued tokens")
    return stack.render()
