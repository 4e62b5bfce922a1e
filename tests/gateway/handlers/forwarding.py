"""Test HTTP handler: the path says what to answer (/env/NAME: environment variable NAME, a
KeyError if the function has none; /crash: its process exits; /event-size: the size of its
event's JSON; /result-size?bytes=N: a result whose JSON is N bytes; these two are not recorded,
their events or results being megabytes)."""

import base64
import json
import os
import time

from tests.gateway.recording import record

BINARY = bytes(range(256)) * 4


def result_of_size(size: int) -> dict:
    """A result whose ``json.dumps`` is ``size`` bytes."""
    envelope = {"statusCode": 200, "body": ""}
    return {"statusCode": 200, "body": "r" * (size - len(json.dumps(envelope)))}


def handler(event, context):
    path = event["rawPath"]
    if path == "/event-size":
        return {"statusCode": 200, "body": str(len(json.dumps(event)))}
    if path == "/result-size":
        return result_of_size(int(event["queryStringParameters"]["bytes"]))
    record("forwarding", event, context)
    if path == "/cookies":
        return {
            "statusCode": 201,
            "headers": {"x-multi": "v1,v2", "content-type": "text/plain"},
            "cookies": ["a=1; Path=/", "b=2; HttpOnly", "c=3; Max-Age=60"],
            "body": "cookies set",
        }
    if path == "/no-content":
        return {"statusCode": 204, "headers": {"x-empty": "yes"}}
    if path == "/binary":
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(BINARY).decode(),
            "isBase64Encoded": True,
        }
    if path == "/echo-body":
        body = event.get("body", "")
        raw = base64.b64decode(body) if event["isBase64Encoded"] else body.encode()
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(raw).decode(),
            "isBase64Encoded": True,
        }
    if path == "/raise":
        raise RuntimeError("SECRET-FORWARDING-INTERNALS")
    if path == "/infer":
        return {"hello": "world", "n": 1}
    if path == "/bad-status":
        return {"statusCode": "two hundred"}
    if path == "/unserializable":
        return {"statusCode": 200, "body": b"bytes are not JSON"}
    if path.startswith("/env/"):
        return {"statusCode": 200, "body": os.environ[path.removeprefix("/env/")]}
    if path == "/crash":
        print("forwarding: exiting, as a crashing runtime would", flush=True)
        os._exit(13)
    if path in ("/slow", "/sleep"):
        time.sleep(float((event.get("queryStringParameters") or {}).get("s", "3")))
        return {"statusCode": 200, "body": "slept"}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(event),
    }
