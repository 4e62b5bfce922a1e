"""Each function's role grants exactly what its code calls: nothing unused, nothing missing.

Every AWS call the functions make in these tests is recorded through botocore's event hooks as
an (IAM action, resource ARN) pair and matched against the role's statements in the rendered
dev template. Logs, X-Ray and KMS are used by the Lambda runtime, not by the code, so their
statements are checked by tests/test_roles.py instead.
"""

from __future__ import annotations

import os
import threading
import time
from fnmatch import fnmatchcase

import pytest
from tunnel_shared import protocol, resources
from tunnel_shared.connections import claim_key

from tests.functions.agents import connect
from tests.functions.conftest import ANSWERS_API_ID, API_ID
from tests.functions.events import http_event, websocket_event
from tests.functions.test_tunnel_round_trip import answer_requests
from tests.iam_policies import role_permissions
from tunnel_infra.functions import FUNCTIONS

RUNTIME_PREFIXES = ("logs:", "xray:", "kms:")


@pytest.fixture(scope="module")
def toured(functions):
    """Every path of every function, whatever else ran before."""
    stale, _ = connect(functions, "tour", "tour")
    middle, _ = connect(functions, "tour", "tour")  # replaces the stale one, which drains
    # A third: at most two live per token, so the stale one is closed.
    connection_id, _ = connect(functions, "tour", "tour")
    functions.invoke("response", websocket_event("$default", connection_id, '{"action":"ready"}'))
    agent = answer_requests(functions, connection_id)
    functions.invoke("forwarding", http_event("tour"))
    agent.join()
    # Bodies too large for a message: one stored each way.
    large = b"x" * 200_000
    agent = answer_requests(functions, connection_id, body=large, received=[])
    functions.invoke("forwarding", http_event("tour", "POST", body=large))
    agent.join()
    # The reply key as a fresh response container reads it (the harness shares one cache).
    resources._created.pop("reply-key", None)
    stray = protocol.response_message(
        "no-such-request", 200, [], b"", reply=protocol.Reply("answers0001=", "not-its-mac")
    )
    functions.invoke("response", websocket_event("$default", connection_id, stray))
    # A connection the table does not know speaks: response closes it.
    functions.invoke("response", websocket_event("$default", "unknown=", protocol.ping_message()))
    functions.endpoint.gone.add(connection_id)
    functions.invoke("forwarding", http_event("tour"))  # gone: cleans up the connection
    again, _ = connect(functions, "tour", "tour")
    # Its connection closes while a request waits: the claim is released, and forwarding asks
    # GetConnection, whose 410 says it is gone.
    waiting = threading.Thread(
        target=lambda: functions.invoke("forwarding", http_event("tour")), daemon=True
    )
    waiting.start()
    deadline = time.monotonic() + 10
    while not functions.endpoint.messages(again) and time.monotonic() < deadline:
        time.sleep(0.01)
    functions.endpoint.gone.add(again)
    functions.invoke("disconnect", websocket_event("$disconnect", again))
    waiting.join(10)
    again, _ = connect(functions, "tour", "tour")
    # Another session while the owner is live: connect asks whether it still is (409).
    _, refused = connect(functions, "tour", "tour", session="another-session-entirely")
    assert refused == {"statusCode": 409}
    # The owner vanished without its $disconnect (410): another session takes the claim and
    # deletes the gone connection's item.
    functions.endpoint.gone.add(again)
    again, taken = connect(functions, "tour", "tour", session="another-session-entirely")
    assert taken["statusCode"] == 200
    # Its token has expired: forwarding tells the agent, closes it and routes nothing.
    functions.connections.update_item(
        Key=claim_key("tour"),
        UpdateExpression="SET expires = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )
    assert functions.invoke("forwarding", http_event("tour"))["statusCode"] == 404
    functions.invoke("disconnect", websocket_event("$disconnect", again))
    time.sleep(0.05)
    return functions


def resolve(resource: str, functions) -> str:
    values = {
        "${AWS::Partition}": "aws",
        "${AWS::Region}": "us-east-1",
        "${AWS::AccountId}": "123456789012",
        "${ConnectionsTableName}": functions.connections.name,
        "${WebSocketApiId}": API_ID,
        "${AnswersApiId}": ANSWERS_API_ID,
        "${BodiesBucketName}": functions.bodies_bucket,
        "${TokensTableName}": functions.tokens.name,
    }
    if resource == "Ref SigningKeySecretArn":
        return os.environ["SIGNING_KEY_SECRET_ARN"]
    if resource == "Ref ReplyKeySecretArn":
        return os.environ["REPLY_KEY_SECRET_ARN"]
    for placeholder, value in values.items():
        resource = resource.replace(placeholder, value)
    return resource


@pytest.mark.parametrize("declared", FUNCTIONS, ids=lambda f: f.name)
def test_role_grants_exactly_what_the_code_calls(templates, toured, declared):
    roles = role_permissions(templates["dev/functions"])
    granted = {
        (action, resolve(resource, toured))
        for action, resource in roles[f"{declared.title}Role"]
        if not action.startswith(RUNTIME_PREFIXES)
    }
    calls = {(c.action, c.resource) for c in toured.recorder.calls if c.function == declared.name}
    assert calls, f"{declared.name} made no AWS call in the tests"
    used: set[tuple[str, str]] = set()
    for action, resource in sorted(calls):
        matches = {g for g in granted if g[0] == action and fnmatchcase(resource, g[1])}
        assert matches, (
            f"{declared.name} calls {action} on {resource}, which its role does not grant"
        )
        used |= matches
    assert used == granted, f"{declared.name}'s role grants unused {sorted(granted - used)}"


def test_no_pending_item_and_no_polling_on_a_requests_path(toured):
    """A request's DynamoDB operations are the claim read, the lease update (and release) and
    the token record read; the agent's answer costs response none: no pending item anywhere."""
    calls = {(c.function, c.action, c.resource.rsplit("/", 1)[-1]) for c in toured.recorder.calls}
    tables = {toured.connections.name: "connections", toured.tokens.name: "tokens"}
    elsewhere = {c for c in calls if c[1].startswith("dynamodb:") and c[2] not in tables}
    assert not elsewhere, f"a table other than the claims' and the tokens': {elsewhere}"
    dynamodb = {
        (function, action, tables.get(table, table))
        for function, action, table in calls
        if action.startswith("dynamodb:") and function in ("forwarding", "response")
    }
    assert dynamodb == {
        ("forwarding", "dynamodb:GetItem", "connections"),  # the claim (and while waiting)
        ("forwarding", "dynamodb:UpdateItem", "connections"),  # the lease, taken and released
        ("forwarding", "dynamodb:DeleteItem", "connections"),  # a gone agent's item
        ("forwarding", "dynamodb:GetItem", "tokens"),  # revoked? (cached 5 s per token)
        ("response", "dynamodb:UpdateItem", "connections"),  # the allowance (not on answers)
    }
