"""Test $connect: records; ?refuse=<status> refuses, ?post=1 tries to post to itself first."""

import os

import boto3

from tests.gateway.recording import record


def handler(event, context):
    record("connect", event, context)
    query = event.get("queryStringParameters") or {}
    if "post" in query:
        client = boto3.client(
            "apigatewaymanagementapi", endpoint_url=os.environ["CONNECTIONS_ENDPOINT"]
        )
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
