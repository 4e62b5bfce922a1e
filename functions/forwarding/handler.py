"""The public side: an HTTP API request (payload 2.0) crosses the tunnel to the agent and back.

1. The subdomain comes from the request as ``PUBLIC_URL_FORMAT`` says (tunnel_shared.public_url):
   the Host's first label under a custom domain, else the path's first segment, which is then
   taken off the path the agent receives. Its live connection comes from the
   ``subdomain-index`` (items whose ``ttl`` has passed are ignored).
2. The request is stored as pending (short TTL), then posted to the agent as one message. A
   body too large for the message's 128 KB waits in S3 instead, and the message carries a
   presigned GET for it; every message carries a presigned PUT for the response body
   (tunnel_shared.bodies).
3. The agent's response arrives in the pending item (the ``response`` function writes it);
   this function waits for it with consistent reads at a short first interval that grows to a
   cap, until a deadline under the HTTP API's 30 s limit. A response body the agent uploaded is
   read from S3. Both objects are deleted before the answer goes.

Bodies go up to ``MAX_BODY_BYTES`` each way (tunnel_shared.limits derives it from Lambda's 6 MB).
Errors are short plain-text answers: 404 unknown or idle subdomain, 413 request body over the
limit, 502 agent gone (its connection is cleaned up) or response over the limit (with
``x-tunnel-error: response-too-large``), 504 no answer in time.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import uuid
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import protocol
from tunnel_shared.bodies import BodyStore, BodyTooLarge
from tunnel_shared.connections import INDEX
from tunnel_shared.limits import (
    HTTP_INTEGRATION_TIMEOUT_SECONDS,
    LAMBDA_RESPONSE_PAYLOAD_BYTES,
    MAX_BODY_BYTES,
    MAX_MESSAGE_BYTES,
)
from tunnel_shared.log import Invocation
from tunnel_shared.public_url import PublicUrl, PublicUrlError
from tunnel_shared.resources import agent_connections, connections_table, pending_table
from tunnel_shared.tokens import SUBDOMAIN

# Answer before API Gateway's own 29 s route timeout does, with a clear 504.
DEADLINE_SECONDS = HTTP_INTEGRATION_TIMEOUT_SECONDS - 2
# Polling: 10 ms first, x1.5 each time, capped at 100 ms (see the README for the read cost).
# The variables exist to compare strategies side by side (make bench); the template sets none.
FIRST_POLL_SECONDS = float(os.environ.get("POLL_FIRST_SECONDS", "0.010"))
POLL_GROWTH = float(os.environ.get("POLL_GROWTH", "1.5"))
MAX_POLL_SECONDS = float(os.environ.get("POLL_MAX_SECONDS", "0.100"))
PENDING_TTL_SECONDS = 60
# While waiting, look this often whether the agent's connection is still live: an agent that
# dies mid-request ($disconnect removes its item) gets a 502 at once instead of a 504 at 27 s.
LIVENESS_CHECK_SECONDS = 0.5
# Per-hop headers describe the agent's local connection, not the public one.
HOP_BY_HOP = frozenset(
    {"connection", "content-length", "keep-alive", "transfer-encoding", "upgrade", "te"}
)


def handler(event: Any, context: Any) -> dict[str, Any]:
    with Invocation("forwarding", context) as log:
        try:
            answer = _forward(event, log)
        except (BotoCoreError, ClientError) as error:
            log.note(outcome="error", error=type(error).__name__)
            answer = _text(502, "The tunnel could not reach its agent.")
        log.note(status=answer["statusCode"])
        return answer


def _forward(event: Any, log: Invocation) -> dict[str, Any]:
    request = _read_request(event)
    if isinstance(request, dict) and "statusCode" in request:
        log.note(outcome="rejected")
        return request
    subdomain, method, raw_path, raw_query, headers, cookies, body = request
    log.note(subdomain=subdomain, method=method, requestBytes=len(body))
    if len(body) > MAX_BODY_BYTES:
        log.note(outcome="too large")
        return _text(
            413,
            f"The request body is {len(body):,} bytes; the tunnel carries at most "
            f"{MAX_BODY_BYTES:,} bytes.",
        )
    connection_id = _live_connection(subdomain)
    if connection_id is None:
        log.note(outcome="no tunnel")
        return _text(404, f"No tunnel is connected at {subdomain}.")

    request_id = uuid.uuid4().hex
    bodies = BodyStore.at(os.environ["BODIES_OBJECTS"])
    parts = (request_id, method, raw_path, raw_query, headers, cookies)
    response_url = bodies.response_url(request_id)
    envelope = protocol.request_message(*parts, b"", response_url)
    if protocol.inline_size(envelope, len(body)) > MAX_MESSAGE_BYTES:
        if len(envelope.encode()) > MAX_MESSAGE_BYTES // 2:
            log.note(outcome="too large")
            return _text(413, "The request's headers are too large for the tunnel.")
        stored = bodies.put_request(request_id, body)
        message = protocol.request_message(*parts, b"", response_url, stored)
        leftovers = ["request"]
    else:
        message = protocol.request_message(*parts, body, response_url)
        leftovers = []
    answered_inline = False
    try:
        answer, answered_inline = _exchange(
            request_id, subdomain, connection_id, message, bodies, log
        )
        return answer
    finally:
        # Nothing stays behind: a stored request body, and a response body the agent uploaded
        # or may still be uploading (S3 deletes a missing key without complaint).
        if not answered_inline:
            leftovers.append("response")
        bodies.delete(request_id, tuple(leftovers))


def _exchange(
    request_id: str,
    subdomain: str,
    connection_id: str,
    message: str,
    bodies: BodyStore,
    log: Invocation,
) -> tuple[dict[str, Any], bool]:
    """Post the request to the agent, wait for its response, and answer the public request;
    and whether the agent answered with its body inline (nothing of it in S3)."""
    now = int(time.time())
    pending_table().put_item(
        Item={
            "requestId": request_id,
            "connectionId": connection_id,
            "status": "pending",
            "ttl": now + PENDING_TTL_SECONDS,
        }
    )
    try:
        agent_connections().post_to_connection(ConnectionId=connection_id, Data=message.encode())
    except agent_connections().exceptions.GoneException:
        # Caught before ClientError: the agent is gone, so is its connection.
        pending_table().delete_item(Key={"requestId": request_id})
        connections_table().delete_item(Key={"connectionId": connection_id})
        log.note(outcome="agent gone", connectionId=connection_id)
        return _text(502, "The tunnel's agent is gone."), False
    except (ClientError, BotoCoreError):
        pending_table().delete_item(Key={"requestId": request_id})
        raise

    response, reads = _wait(request_id, subdomain, connection_id)
    pending_table().delete_item(Key={"requestId": request_id})
    log.note(reads=reads, requestId=request_id)
    if response is _GONE:
        log.note(outcome="agent gone", connectionId=connection_id)
        return _text(502, "The tunnel's agent is gone."), False
    if response is None:
        log.note(outcome="timeout")
        return _text(504, "The tunnel's agent did not answer in time."), False
    body = base64.b64decode(response.get("body", ""))
    stored = response.get("stored")
    if stored is not None:
        log.note(responseStored=True)
        try:
            body = bodies.read_response(request_id, MAX_BODY_BYTES)
        except BodyTooLarge as error:
            log.note(outcome="response too large", responseBytes=error.size)
            return _too_large(f"body is {error.size:,} bytes"), False
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
            log.note(outcome="response missing")
            return _text(502, "The tunnel's agent did not upload the response body."), False
    answer = _http_response(response, body)
    if len(body) > MAX_MESSAGE_BYTES:
        # Lambda refuses a result over its limit (API Gateway then answers a bare 502): check
        # here, where the answer can still say why.
        size = len(json.dumps(answer))
        if size > LAMBDA_RESPONSE_PAYLOAD_BYTES:
            log.note(outcome="response too large", responseBytes=len(body))
            return _too_large(f"answer is {size:,} bytes encoded"), stored is None
    log.note(outcome="answered", responseBytes=len(body))
    return answer, stored is None


def _too_large(size: str) -> dict[str, Any]:
    answer = _text(
        502,
        f"The local service's response {size}; the tunnel carries at most "
        f"{MAX_BODY_BYTES:,} bytes of body ({LAMBDA_RESPONSE_PAYLOAD_BYTES:,} bytes encoded).",
    )
    answer["headers"]["x-tunnel-error"] = "response-too-large"
    return answer


def _read_request(event: Any) -> tuple | dict[str, Any]:
    """The request's parts, or an answer for an event that is not an HTTP API 2.0 request."""
    if not isinstance(event, dict) or event.get("version") != "2.0":
        return _text(400, "Not an HTTP API request.")
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    headers = event.get("headers") or {}
    if not isinstance(http, dict) or not isinstance(headers, dict):
        return _text(400, "Not an HTTP API request.")
    method = http.get("method")
    raw_path = event.get("rawPath")
    raw_query = event.get("rawQueryString") or ""
    cookies = event.get("cookies") or []
    if not (
        isinstance(method, str)
        and isinstance(raw_path, str)
        and isinstance(raw_query, str)
        and isinstance(cookies, list)
        and all(isinstance(c, str) for c in cookies)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        return _text(400, "Malformed HTTP API request.")
    host = headers.get("host") or (context.get("domainName") if isinstance(context, dict) else "")
    try:
        public_url = PublicUrl(os.environ.get("PUBLIC_URL_FORMAT", ""))
    except PublicUrlError:
        return _text(502, "The tunnel is misconfigured (PUBLIC_URL_FORMAT).")
    located = public_url.locate(str(host or ""), raw_path)
    if located is None:
        if raw_path in ("", "/") and method in ("GET", "HEAD"):
            return _text(200, f"This is an http-tunnel: tunnels answer at {public_url.format}.")
        return _text(404, "No tunnel at this address.")
    if not SUBDOMAIN.match(located.subdomain):
        return _text(404, "No tunnel at this address.")
    if located.needs_slash and method in ("GET", "HEAD"):
        target = f"/{located.subdomain}/" + (f"?{raw_query}" if raw_query else "")
        return {"statusCode": 308, "headers": {"location": target}, "body": ""}
    subdomain, raw_path = located.subdomain, located.path
    body = event.get("body") or ""
    if not isinstance(body, str):
        return _text(400, "Malformed HTTP API request body.")
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return _text(400, "Malformed HTTP API request body.")
    else:
        data = body.encode()
    # API Gateway joins repeated headers with commas and moves cookies out of the headers.
    pairs = sorted((name, value) for name, value in headers.items() if name != "cookie")
    return subdomain, method, raw_path, raw_query, pairs, cookies, data


def _live_connection(subdomain: str) -> str | None:
    """The newest connection for the subdomain whose TTL has not passed."""
    found = connections_table().query(
        IndexName=INDEX, KeyConditionExpression=Key("publicSubdomain").eq(subdomain)
    )["Items"]
    now = int(time.time())
    live = [item for item in found if int(item.get("ttl", 0)) > now]
    if not live:
        return None
    return str(max(live, key=lambda item: int(item.get("connectedAt", 0)))["connectionId"])


_GONE: dict[str, Any] = {}


def _wait(request_id: str, subdomain: str, connection_id: str) -> tuple[Any, int]:
    """The agent's response, ``_GONE`` if its connection went away, or None at the deadline;
    and how many reads it took."""
    started = time.monotonic()
    deadline = started + DEADLINE_SECONDS
    next_liveness_check = started + LIVENESS_CHECK_SECONDS
    interval = FIRST_POLL_SECONDS
    reads = 0
    while True:
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        item = (
            pending_table().get_item(Key={"requestId": request_id}, ConsistentRead=True).get("Item")
        )
        reads += 1
        if item and item.get("status") == "answered":
            return item.get("response"), reads
        now = time.monotonic()
        if now >= deadline:
            return None, reads
        if now >= next_liveness_check:
            reads += 1
            if _live_connection(subdomain) != connection_id:
                return _GONE, reads
            next_liveness_check = now + LIVENESS_CHECK_SECONDS
        interval = min(interval * POLL_GROWTH, MAX_POLL_SECONDS)


def _http_response(response: dict[str, Any], body: bytes) -> dict[str, Any]:
    """An HTTP API 2.0 response: each Set-Cookie through ``cookies``, the body as base64."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in response.get("headers", []):
        if name.lower() in HOP_BY_HOP:
            continue
        if name.lower() == "set-cookie":
            cookies.append(value)
        elif name.lower() in headers:
            headers[name.lower()] += f", {value}"
        else:
            headers[name.lower()] = value
    answer: dict[str, Any] = {
        "statusCode": int(response["status"]),
        "headers": headers,
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    if cookies:
        answer["cookies"] = cookies
    return answer


def _text(status: int, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "text/plain; charset=utf-8"},
        "body": message + "\n",
        "isBase64Encoded": False,
    }
