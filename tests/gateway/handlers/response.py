"""Test message handler ($default and the extra routes): records; posts back what it is asked.

{"reply": text} posts text back; {"replySize": n} posts n bytes; {"whoami": true} posts the
connection id and route key; {"action": "boom"} raises; {"sleep": s} sleeps first;
{"resultSize": n} returns a result of n characters' body (over Lambda's limit: an error).
"""

import json
import os
import time

import boto3

from tests.gateway.recording import record


def handler(event, context):
    record("response", event, context)
    try:
        body = json.loads(event.get("body") or "null")
    except ValueError:
        return {"statusCode": 400}
    if not isinstance(body, dict):
        return {"statusCode": 400}
    time.sleep(body.get("sleep", 0))
    if body.get("action") == "boom":
        raise RuntimeError("SECRET-HANDLER-INTERNALS")
    if "resultSize" in body:
        return {"statusCode": 200, "body": "r" * body["resultSize"]}
    request = event["requestContext"]
    data = None
    if "reply" in body:
        data = body["reply"].encode()
    elif "replySize" in body:
        data = b"r" * body["replySize"]
    elif body.get("whoami"):
        data = json.dumps(
            {"connectionId": request["connectionId"], "routeKey": request["routeKey"]}
        ).encode()
    if data is not None:
        # The answers API's whoami is answered through that API's own @connections.
        endpoint = "ANSWERS_ENDPOINT" if request["routeKey"] == "whoami" else "CONNECTIONS_ENDPOINT"
        client = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ[endpoint])
        client.post_to_connection(ConnectionId=request["connectionId"], Data=data)
    return {"statusCode": 200, "body": "a route response nobody asked for"}
