"""Tables: agent connections (with their subdomains' claims) and the tokens issued (so that one
can be revoked). Answers cross the answers API, not a table."""

from troposphere import Ref

from tunnel_infra.aws import dynamodb
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import CONNECTIONS, TOKENS


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "DynamoDB tables")
    key_arn = stack.data_key_parameter()

    # Routing reads a subdomain's claim item (claim#<subdomain>), never an index.
    connections_table = dynamodb.table(stack, CONNECTIONS, key_arn=key_arn)
    tokens_table = dynamodb.table(stack, TOKENS, key_arn=key_arn)

    stack.output(CONNECTIONS.parameter, Ref(connections_table), "Agent connections")
    stack.output(TOKENS.parameter, Ref(tokens_table), "Issued tokens")
    return stack.render()
