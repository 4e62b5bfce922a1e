"""The agent announces a stored response body that is not in S3. Without s3:ListBucket (the
forwarding role has none), S3 answers GetObject on a missing key with 403 AccessDenied, not
404 NoSuchKey (S3 API reference, GetObject, Permissions): forwarding answers a clear 502 either
way, never the generic "could not reach its agent"."""

from __future__ import annotations

import threading
import time

import pytest
from tunnel_shared import protocol

from tests.functions.agents import connect
from tests.functions.events import http_event, websocket_event

# S3's answer to GetObject on a missing key for a caller without s3:ListBucket.
ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message></Error>"
)


def announce_without_upload(functions, connection_id: str) -> threading.Thread:
    """An agent that says it stored the response body, and stored nothing."""

    def run() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for message in functions.endpoint.messages(connection_id):
                if message.get("type") == "request":
                    reply = protocol.response_message(
                        message["requestId"], 200, [], b"", 300_000, protocol.reply_of(message)
                    )
                    functions.invoke("response", websocket_event("$default", connection_id, reply))
                    return
            time.sleep(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def without_list_bucket(functions):
    """S3 as the forwarding role sees it. The emulator's caller is the account itself, which
    may list every bucket, so it rightly answers a missing key with 404 NoSuchKey; the role has
    no s3:ListBucket, and S3 answers it 403 AccessDenied instead. The emulator's answer for a
    missing key is rewritten into that one, on forwarding's own S3 client; nothing else is."""
    from tunnel_shared.resources import s3_client

    client = s3_client()

    def as_the_role(response_dict: dict, **kwargs) -> None:
        missing = b"<Code>NoSuchKey</Code>" in response_dict["body"]
        if response_dict["status_code"] == 404 and missing:
            response_dict["status_code"] = 403
            response_dict["body"] = ACCESS_DENIED

    client.meta.events.register("before-parse.s3.GetObject", as_the_role)
    yield client
    client.meta.events.unregister("before-parse.s3.GetObject", as_the_role)


def test_the_role_gets_access_denied_for_a_missing_key(functions, without_list_bucket):
    with pytest.raises(without_list_bucket.exceptions.ClientError) as raised:
        without_list_bucket.get_object(Bucket=functions.bodies_bucket, Key="spill/none/response")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"


def test_an_announced_body_that_is_not_there_is_a_clear_502(functions, without_list_bucket):
    connection_id, _ = connect(functions, "fibber", "fibbing")
    agent = announce_without_upload(functions, connection_id)
    answer = functions.invoke("forwarding", http_event("fibbing"))
    agent.join()
    assert answer["statusCode"] == 502
    assert answer["headers"]["x-tunnel-error"] == "response-missing"
    assert "stored the response body, but it is not there" in answer["body"]
