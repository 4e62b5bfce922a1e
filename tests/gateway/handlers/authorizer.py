"""Test authorizer: the token says what to answer (allow*, deny, elsewhere, raise,
unauthorized, malformed); ?read=NAME reads environment variable NAME first (KeyError if the
function has none)."""

import os

from tests.gateway.recording import record


def handler(event, context):
    record("authorizer", event, context)
    query = event.get("queryStringParameters") or {}
    if "read" in query:
        os.environ[query["read"]]
    token = query.get("token", "")
    if token == "raise":
        raise RuntimeError("SECRET-AUTHORIZER-INTERNALS")
    if token == "unauthorized":
        raise Exception("Unauthorized")  # API Gateway's convention for a 401
    if token == "malformed":
        return {"policyDocument": {"Statement": []}}
    resource = event["methodArn"]
    if token == "elsewhere":  # allowed, but on another API's $connect
        resource = resource.replace(resource.split(":")[5].split("/")[0], "otherapi")
    statement = {
        "Action": "execute-api:Invoke",
        "Effect": "Allow" if token.startswith("allow") else "Deny",
        "Resource": resource,
    }
    return {
        "principalId": f"principal-{token}",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": {"subject": "alice", "subdomain": "demo", "level": 7, "admin": False},
    }
