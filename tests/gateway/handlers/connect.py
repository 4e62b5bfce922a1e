"""Test $connect: records; ?refuse=<status> refuses, ?post=1 tries to post to itself first.

$connect is deployed without CONNECTIONS_ENDPOINT: it names its API's endpoint from the event,
as it would have to on AWS (there ``https://<domainName>/<stage>``).
"""

import boto3

from tests.gateway.recording import record


def handler(event, context):
    record("connect", event, context)
    query = event.get("queryStringParameters") or {}
    if "post" in query:
        headers = event["headers"]
        endpoint = (
            f"{headers['X-Forwarded-Proto']}://{headers['Host']}/{event['requestContext']['stage']}"
        )
        client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
        try:
            client.post_to_connection(
                ConnectionId=event["requestContext"]["connectionId"], Data=b"too early"
            )
            outcome = "posted"
        except client.exceptions.GoneException:
            outcome = "GoneException"
        record("connect-post", {"tag": query.get("tag"), "outcome": outcome})
    if "refuse" in query:
        return {"statusCode": int(query["refuse"]), "body": "refused"}
    return {"statusCode": 200}
