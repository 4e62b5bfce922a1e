"""Tables: agent connections (with their subdomains) and requests waiting for a response."""

from troposphere import Ref

from tunnel_infra.aws import dynamodb
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import CONNECTIONS, PENDING_REQUESTS, SUBDOMAIN_INDEX


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "DynamoDB tables")
    key_arn = stack.data_key_parameter()

    connections_table = dynamodb.table(
        stack,
        CONNECTIONS,
        indexes=(dynamodb.index(SUBDOMAIN_INDEX.name, hash_key="publicSubdomain"),),
        key_arn=key_arn,
    )
    pending_requests_table = dynamodb.table(stack, PENDING_REQUESTS, key_arn=key_arn)

    stack.output(CONNECTIONS.parameter, Ref(connections_table), "Agent connections")
    stack.output(PENDING_REQUESTS.parameter, Ref(pending_requests_table), "Requests in flight")
    return stack.render()
