"""The public side: an HTTP API request (payload 2.0) crosses the tunnel to the agent and back.

1. The subdomain comes from the request as ``PUBLIC_URL_FORMAT`` says (tunnel_shared.public_url):
   exactly ``<label>.<domain>`` under a custom domain, else the path's first segment, which is
   then taken off the path the agent receives. Its connection is the owner of its claim
   (``claim#<subdomain>``, read consistently; a claim past its ``ttl`` or its token's expiry
   routes nothing). Under the path form a request whose first segment is no live tunnel is
   sent back (307) under the prefix of the tunnel its routing cookie names (one more claim
   read), and redirects are brought back under the prefix (tunnel_shared.path_form). A claim
   whose token was revoked routes nothing: its connection is told and closed (the token's
   record is read at most every ``REVOCATION_CHECK_SECONDS`` per token and container). The
   caller's hop-by-hop headers, those its ``Connection`` names and those that claim a client
   address or a URL are dropped (tunnel_shared.headers), and the forwarding headers replace
   whatever the caller sent: ``X-Forwarded-For`` the source IP, ``-Host`` the Host the caller
   used (port included), ``-Proto`` and ``-Port`` API Gateway's (its own port locally), and
   under the path form ``X-Forwarded-Prefix: /<subdomain>``.
2. The tunnel gets a lease for the request (tunnel_shared.capacity): at most
   ``IN_FLIGHT_PER_TUNNEL`` in flight. Over it, a tunnel whose agent is silent refuses at once;
   otherwise the caller waits for a slot, one of at most ``capacity.waiters_allowed`` callers,
   while the tunnel is answering (up to ``MAX_SLOT_WAIT_SECONDS``), or ``SLOT_WAIT_SECONDS``
   when it answers nothing; refused, it gets 429 with ``Retry-After``.
3. The request is posted to the agent as one message, with where to answer: ``replyTo``, this
   container's own connection to the internal answers API (tunnel_shared.answers: opened on
   the first request, while the claim is read and the lease taken, and kept while warm), and
   ``replyMac``, which binds that address to the request and the agent's connection
   (tunnel_shared.reply). A body too large for the message's 128 KB waits in S3 instead, and
   the message carries a presigned GET for it; every message carries a presigned PUT for the
   response body (tunnel_shared.bodies). Nothing is written for the request but its lease.
4. The agent's response comes back through ``response``, which checks the MAC and posts it to
   ``replyTo`` as an ``answer``; this function waits on its socket for it, until a deadline
   under the HTTP API's 30 s limit (3 s when the agent is connected but has left requests
   unanswered for 10 s): no polling. A socket lost while waiting ends the wait at once with a
   502 (``x-tunnel-error: answer-channel-lost``). A response body the agent uploaded is read
   from S3. While waiting, every ``LIVENESS_CHECK_SECONDS`` the claim is read: one that names
   another connection (the same agent session reconnected) or none stops the wait only once
   ``GetConnection`` says the request's connection is gone (410): until then it is still open
   and may answer. Both objects are deleted before the answer goes. Its cookies are made
   host-only for the tunnel's own host (tunnel_shared.cookies).

The DynamoDB operations on a request's path, each needed: the claim's consistent read (who
owns the tunnel now), the lease's update and its release (the cap is shared by every container),
the token record's read at most every ``REVOCATION_CHECK_SECONDS`` per token and container
(revocation), and a claim read per ``LIVENESS_CHECK_SECONDS`` only while a request waits longer.

Bodies go up to ``MAX_BODY_BYTES`` each way (tunnel_shared.limits derives it from Lambda's 6 MB).
Errors are short plain-text answers: 404 unknown or idle subdomain, 413 request body over the
limit, 429 tunnel at its cap, 502 agent gone (its connection is cleaned up) or response over the
limit (with ``x-tunnel-error: response-too-large``) or not uploaded though announced (with
``x-tunnel-error: response-missing``) or the answers socket could not be opened or was lost
(``x-tunnel-error: answer-channel-lost``), 403 a revoked token's tunnel, 504 no answer in time.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import capacity, cookies, path_form, protocol, reply, rest_events, token_records
from tunnel_shared.answers import Channel, ChannelLost, StreamBroken, Waiter
from tunnel_shared.bodies import BodyStore, BodyTooLarge, PartMissing
from tunnel_shared.connections import claim_key
from tunnel_shared.events import BadEvent
from tunnel_shared.headers import (
    FRAMING,
    HOP_BY_HOP,
    edge_dropped,
    is_forwarding,
    named_by_connection,
)
from tunnel_shared.limits import (
    LAMBDA_RESPONSE_PAYLOAD_BYTES,
    MAX_BODY_BYTES,
    MAX_MESSAGE_BYTES,
    REQUEST_DEADLINE_SECONDS,
    STREAM_IDLE_TIMEOUT_SECONDS,
    STREAM_MAX_SECONDS,
)
from tunnel_shared.log import Invocation
from tunnel_shared.public_url import Located, PublicUrl, PublicUrlError, host_name
from tunnel_shared.resources import (
    agent_connections,
    answers_client,
    connections_table,
    reply_key,
    tokens_table,
)
from tunnel_shared.streaming_runtime import CallerGone, ResponseStream
from tunnel_shared.tokens import SUBDOMAIN

# Answer before API Gateway's own 29 s route timeout does, with a clear 504.
DEADLINE_SECONDS = REQUEST_DEADLINE_SECONDS
# While waiting, look this often whether the agent's connection is still live: an agent that
# dies mid-request ($disconnect removes its item) gets a 502 at once instead of a 504 at 27 s.
LIVENESS_CHECK_SECONDS = 0.5
# Waiting for a free slot when the tunnel is at its cap: a browser's burst of fast requests
# (a dev server's page load) queues for a moment instead of failing.
SLOT_WAIT_SECONDS = 2.5
# A tunnel that keeps answering is waited for longer: the request still has its deadline after.
MAX_SLOT_WAIT_SECONDS = 8.0
SLOT_POLL_SECONDS = 0.05
# A revoked token's tunnel stops routing within this long in a warm container: its record is
# read once per token for that long (a revocation is final: that answer is kept).
REVOCATION_CHECK_SECONDS = 5.0
_PORT = re.compile(r"[0-9]{1,5}")
# What S3 answers for a key that is not there: 404 NoSuchKey to a caller with s3:ListBucket,
# 403 AccessDenied to one without (this function's role).
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "AccessDenied", "403"})
# Threads that get the answers connection ready beside the routing (created on first use).
_pool: ThreadPoolExecutor | None = None


class Revoked(Exception):
    """The claim's token was revoked: the tunnel routes nothing."""


def handler(event: Any, context: Any) -> dict[str, Any]:
    with Invocation("forwarding", context) as log:
        started = time.perf_counter()
        answer = _answered(lambda: _forward(event, log), log)
        assert answer is not None  # without a stream, every answer is whole
        log.note(status=answer["statusCode"])
        _note_added_time(log, started)
        return answer


def _note_added_time(log: Invocation, started: float) -> None:
    """Make an answered request's line a ``TunnelAddedMilliseconds`` data point (EMF): this
    invocation's time so far minus ``agentMs``, the wait from posting the request to the agent
    until its answer arrived (``_exchange``). The agent reports no local duration, so that wait
    also holds the two WebSocket crossings (API Gateway to the agent, the answer through
    ``response`` back): the metric is the time forwarding spends on its own (reading the
    request, the claim, the lease, the answers channel, S3, building the answer), a lower bound
    of what the tunnel adds. Requests answered whole only: a streamed answer's time is the
    stream's."""
    agent_ms = log.fields.get("agentMs")
    if log.fields.get("outcome") != "answered" or agent_ms is None:
        return
    elapsed_ms = (time.perf_counter() - started) * 1000
    environment = os.environ.get("ENVIRONMENT", "")
    log.note(**capacity.added_time_metric(environment, elapsed_ms - agent_ms, time.time()))


def _answered(forward: Callable[[], dict[str, Any] | None], log: Invocation) -> Any:
    """``forward``'s answer, or the short one for what stops a request before it crosses."""
    try:
        return forward()
    except BadEvent as error:
        log.note(outcome="rejected", reason=str(error))
        return _text(400, f"The request could not be read: {error}")
    except Revoked:
        log.note(outcome="revoked")
        return _text(403, "This tunnel's token was revoked; it routes nothing.")
    except (BotoCoreError, ClientError) as error:
        log.note(outcome="error", error=type(error).__name__)
        return _text(502, "The tunnel could not reach its agent.")


# A streamed request may last as long as the REST API holds a stream; answer before it cuts.
STREAM_DEADLINE_SECONDS = STREAM_MAX_SECONDS - 5


def stream_handler(event: Any, context: Any, stream: ResponseStream) -> None:
    """The REST API edge (payload 1.0, ``ResponseTransferMode: STREAM``; run by
    tunnel_shared.streaming_runtime): the same request, routing and lease as ``handler``, and
    the agent's answer written to ``stream`` as it comes: its head, then each chunk, then the
    end. An answer that is whole (an error here, or an agent that does not stream) is written
    whole. A body that broke off ends the stream with the runtime's error trailers, which API
    Gateway turns into a cut response, so the caller can tell it from success."""
    with Invocation("forwarding", context) as log:
        log.note(edge="stream")
        answer = _answered(lambda: _forward(rest_events.as_http_event(event), log, stream), log)
        if answer is not None:
            log.note(status=answer["statusCode"])
            _write_whole(stream, answer)


def _write_whole(stream: ResponseStream, answer: dict[str, Any]) -> None:
    """A 2.0 answer (``_text``, ``_http_response``) as one streamed response."""
    body = answer.get("body") or ""
    data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
    stream.start(answer["statusCode"], answer.get("headers") or {}, answer.get("cookies") or [])
    if data:
        stream.write(data)
    stream.close()


@dataclass(frozen=True)
class Incoming:
    """What the caller sent, read from the event, before it is routed."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]  # the forwarding headers already the tunnel's
    cookies: list[str]  # without the path form's routing cookies
    route_cookie: str | None  # the routing cookie's value, as the caller sent it
    body: bytes
    origin: path_form.Origin
    public_url: PublicUrl
    located: Located | None


@dataclass(frozen=True)
class PublicRequest:
    """What the caller sent, read from the event, and where it goes."""

    subdomain: str
    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    cookies: list[str]
    body: bytes
    origin: path_form.Origin  # as the caller used it (a tunnel's own host, or the API's)
    cookie_path: str  # "/<subdomain>" where tunnels are paths of one host, else ""
    added_cookies: tuple[str, ...] = ()  # Set-Cookie the tunnel adds (the routing cookie)

    @property
    def public_host(self) -> str:
        return self.origin.host


def _forward(
    event: Any, log: Invocation, stream: ResponseStream | None = None
) -> dict[str, Any] | None:
    """The answer to give whole, or None once it was streamed to ``stream``."""
    incoming = _read_request(event)
    if isinstance(incoming, dict):
        log.note(outcome="rejected")
        return incoming
    body = incoming.body
    log.note(method=incoming.method, requestBytes=len(body))
    if len(body) > MAX_BODY_BYTES:
        log.note(outcome="too large")
        return _text(
            413,
            f"The request body is {len(body):,} bytes; the tunnel carries at most "
            f"{MAX_BODY_BYTES:,} bytes.",
        )
    # The answers connection gets ready (at once when warm; a connect on the first request)
    # while the claim is read and the lease taken.
    channel = _in_background(_ready_channel)
    routed = _route(incoming, log)
    if isinstance(routed, dict):
        return routed
    request, connection_id = routed
    subdomain = request.subdomain
    log.note(subdomain=subdomain)

    request_id = uuid.uuid4().hex
    started = time.monotonic()
    lease: capacity.Lease | None = None
    try:
        lease = _lease(subdomain, request_id, streamed=stream is not None)
        if lease is None:
            log.note(
                outcome="over capacity",
                **capacity.rejection_metric(os.environ.get("ENVIRONMENT", ""), time.time()),
            )
            answer = _text(429, f"The tunnel {subdomain} has too many requests in flight; retry.")
            answer["headers"]["retry-after"] = "1"
            return answer
        # The time spent waiting for a slot comes off the deadline: the HTTP API's 30 s hold,
        # or the REST API's 15 minutes for a stream.
        whole = STREAM_DEADLINE_SECONDS if stream is not None else DEADLINE_SECONDS
        deadline = whole - (time.monotonic() - started)
        if lease.agent_silent:
            log.note(agentSilent=True)
            deadline = min(deadline, capacity.SILENT_DEADLINE_SECONDS)
        return _forward_leased(request, request_id, connection_id, deadline, channel, log, stream)
    finally:
        if lease is not None:
            capacity.release(connections_table(), lease, time.time())


def _ready_channel() -> Channel:
    """This container's answers connection fit for a request, and the reply key read."""
    reply_key()
    return answers_client().channel()


def _in_background(call: Callable[[], Any]) -> Future[Any]:
    global _pool
    if _pool is None:
        # One per invocation that may run at once (Lambda Managed Instances, the local
        # gateway): each waits here only for the container's one connect.
        _pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="forwarding")
    # In the caller's context: what it set for this invocation (tracing, say) holds there too.
    return _pool.submit(contextvars.copy_context().run, call)


def _lease(subdomain: str, request_id: str, streamed: bool = False) -> capacity.Lease | None:
    """A slot among the tunnel's ``IN_FLIGHT_PER_TUNNEL``. At the cap: None at once when its
    agent is silent (no slot will come free) or enough callers wait already; otherwise wait
    while the tunnel answers requests (a burst drains; a slot came free in the last
    SLOT_WAIT_SECONDS), at most MAX_SLOT_WAIT_SECONDS, and SLOT_WAIT when it answers nothing."""
    cap = _in_flight_per_tunnel()
    table = connections_table()
    started = time.time()
    waiting = False
    try:
        while True:
            lease = capacity.acquire(
                table, subdomain, request_id, cap, time.time(), streamed=streamed
            )
            if lease is not None:
                return lease
            # Leases of executions that died free their slots; answers show the tunnel drains.
            occupancy = capacity.reap(table, subdomain, time.time())
            if occupancy.removed:
                continue
            now = time.time()
            if occupancy.silent(now):
                return None
            if not waiting:
                if not capacity.wait(table, subdomain, request_id, cap, now):
                    return None
                waiting = True
            last_answer = max(started, occupancy.answered_at)
            give_up = min(started + MAX_SLOT_WAIT_SECONDS, last_answer + SLOT_WAIT_SECONDS)
            if now + SLOT_POLL_SECONDS > give_up:
                return None
            time.sleep(SLOT_POLL_SECONDS)
    finally:
        if waiting:
            capacity.leave(table, subdomain, request_id)


def _in_flight_per_tunnel() -> int:
    """The tunnel's cap (``throttling.tunnel_in_flight``); the agent is told it too."""
    return int(os.environ.get("IN_FLIGHT_PER_TUNNEL", "20"))


def _forward_leased(
    request: PublicRequest,
    request_id: str,
    connection_id: str,
    deadline: float,
    ready: Future[Channel],
    log: Invocation,
    stream: ResponseStream | None = None,
) -> dict[str, Any] | None:
    try:
        channel = ready.result()
        reply_to = channel.connection_id
        if reply_to is None:
            raise ChannelLost("the answers connection has no id")
    except ChannelLost as error:
        log.note(outcome="answer channel failed", reason=str(error))
        return _channel_lost("could not open its answer channel")
    log.note(answersConnection=reply_to, answersConnects=answers_client().connects)
    bodies = BodyStore.at(os.environ["BODIES_OBJECTS"])
    parts = (
        request_id,
        request.method,
        request.raw_path,
        request.raw_query,
        request.headers,
        request.cookies,
    )
    response_url = bodies.response_url(request_id)
    # The agent's budget is the time this function will still wait after posting (``_wait``
    # counts ``deadline`` from then); relative, as the agent's clock is not this one's.
    budget = {
        "deadline_ms": int(deadline * 1000),
        "in_flight_per_tunnel": _in_flight_per_tunnel(),
        "reply": protocol.Reply(
            reply_to, reply.mac(reply_key(), request_id, connection_id, reply_to)
        ),
        "stream": stream is not None,
        # Signed here, no AWS call: where the stream's parts too large for a message go.
        "parts_upload": bodies.parts_upload(request_id) if stream is not None else None,
    }
    envelope = protocol.request_message(*parts, b"", response_url, **budget)
    if protocol.inline_size(envelope, len(request.body)) > MAX_MESSAGE_BYTES:
        if len(envelope.encode()) > MAX_MESSAGE_BYTES // 2:
            log.note(outcome="too large")
            return _text(413, "The request's headers are too large for the tunnel.")
        stored = bodies.put_request(request_id, request.body)
        message = protocol.request_message(*parts, b"", response_url, stored, **budget)
        leftovers = ["request"]
    else:
        message = protocol.request_message(*parts, request.body, response_url, **budget)
        leftovers = []
    answered_inline = False
    try:
        # Waiting before the request is posted: its answer cannot come before the waiter.
        with channel.expect(request_id) as waiter:
            answer, answered_inline = _exchange(
                waiter, request, connection_id, message, bodies, deadline, log, stream
            )
        return answer
    finally:
        # Nothing stays behind: a stored request body, and a response body the agent uploaded
        # or may still be uploading (S3 deletes a missing key without complaint).
        if not answered_inline:
            leftovers.append("response")
        bodies.delete(request_id, tuple(leftovers))


def _exchange(
    waiter: Waiter,
    request: PublicRequest,
    connection_id: str,
    message: str,
    bodies: BodyStore,
    deadline: float,
    log: Invocation,
    stream: ResponseStream | None = None,
) -> tuple[dict[str, Any] | None, bool]:
    """Post the request to the agent, wait for its response, and answer the public request
    (None: streamed to ``stream``); and whether the agent answered with its body inline
    (nothing of it in S3)."""
    request_id = waiter.request_id
    posted = time.perf_counter()
    try:
        agent_connections().post_to_connection(ConnectionId=connection_id, Data=message.encode())
    except agent_connections().exceptions.GoneException:
        # Caught before ClientError: the agent is gone, so is its connection.
        connections_table().delete_item(Key={"connectionId": connection_id})
        log.note(outcome="agent gone", connectionId=connection_id)
        return _text(502, "The tunnel's agent is gone."), False

    if stream is not None:
        return _relay_stream(waiter, request, connection_id, bodies, stream, log)
    try:
        response, checks = _wait(waiter, request.subdomain, connection_id, deadline)
    except ChannelLost as error:
        log.note(outcome="answer channel lost", reason=str(error), requestId=request_id)
        return _channel_lost(
            "lost its answer channel while waiting; the request may have run"
        ), False
    log.note(livenessChecks=checks, requestId=request_id)
    if response is _GONE:
        log.note(outcome="agent gone", connectionId=connection_id)
        return _text(502, "The tunnel's agent is gone."), False
    if response is None:
        log.note(outcome="timeout")
        return _text(504, "The tunnel's agent did not answer in time."), False
    assert isinstance(response, protocol.Response)
    # The agent's part, from the post to its answer (``_note_added_time`` takes it off).
    log.note(agentMs=round((time.perf_counter() - posted) * 1000, 1))
    return _whole_answer(response, request, bodies, log)


def _relay_stream(
    waiter: Waiter,
    request: PublicRequest,
    connection_id: str,
    bodies: BodyStore,
    stream: ResponseStream,
    log: Invocation,
) -> tuple[dict[str, Any] | None, bool]:
    """Write the agent's streamed answer to ``stream`` part by part, as it arrives (in order:
    ``Waiter.stream`` reorders). A caller that went away (a write fails) makes the agent close
    its local connection (``cancel``)."""
    request_id = waiter.request_id
    written = 0
    try:
        for part in waiter.stream(idle_seconds=STREAM_IDLE_TIMEOUT_SECONDS):
            if isinstance(part, protocol.Response):
                if not part.streamed:  # an error the agent made, or an agent that buffers
                    return _whole_answer(part, request, bodies, log)
                head = _http_response(part, b"", request)
                stream.start(head["statusCode"], head["headers"], head.get("cookies") or [])
                log.note(status=part.status, streamed=True)
            elif isinstance(part, protocol.Chunk):
                data = part.data
                if part.stored_bytes is not None:
                    data = bodies.read_part(request_id, part.seq, part.stored_bytes)
                stream.write(data)
                written += len(data)
            elif part.ok:
                stream.close()
                log.note(outcome="answered", responseBytes=written)
                return None, True
            else:
                log.note(outcome="stream cut", reason=part.error, responseBytes=written)
                stream.fail(StreamCut(part.error or "the agent's stream broke off"))
                return None, True
    except CallerGone:
        log.note(outcome="caller gone", responseBytes=written)
        _cancel(connection_id, request_id)
        return None, True
    except (StreamBroken, ChannelLost, PartMissing) as error:
        log.note(outcome="stream cut", reason=str(error), responseBytes=written)
        _cancel(connection_id, request_id)
        if not stream.started:
            return _channel_lost("lost its answer while waiting; the request may have run"), True
        stream.fail(StreamCut(str(error)))
        return None, True
    return None, True


class StreamCut(Exception):
    """A streamed answer that did not end well: the runtime ends the stream with it."""


def _cancel(connection_id: str, request_id: str) -> None:
    """Tell the agent nobody waits for the request any more, so it closes its local connection."""
    try:
        agent_connections().post_to_connection(
            ConnectionId=connection_id, Data=protocol.cancel_message(request_id).encode()
        )
    except (BotoCoreError, ClientError):
        pass  # the agent is gone too: nothing to close


def _whole_answer(
    response: protocol.Response, request: PublicRequest, bodies: BodyStore, log: Invocation
) -> tuple[dict[str, Any], bool]:
    """The answer for a whole response (its body inline, or read from S3)."""
    request_id = response.request_id
    body = response.body
    stored = response.stored_bytes
    if stored is not None:
        log.note(responseStored=True)
        try:
            body = bodies.read_response(request_id, MAX_BODY_BYTES)
        except BodyTooLarge as error:
            log.note(outcome="response too large", responseBytes=error.size)
            return _too_large(f"body is {error.size:,} bytes"), False
        except ClientError as error:
            # Without s3:ListBucket (this function has none), S3 answers a missing key with
            # 403 AccessDenied, not 404 NoSuchKey: the agent announced a body it did not store.
            if error.response["Error"]["Code"] not in MISSING_OBJECT_CODES:
                raise
            log.note(outcome="response missing", s3Error=error.response["Error"]["Code"])
            answer = _text(
                502, "The tunnel's agent said it stored the response body, but it is not there."
            )
            answer["headers"]["x-tunnel-error"] = "response-missing"
            return answer, False
    answer = _http_response(response, body, request)
    if len(body) > MAX_MESSAGE_BYTES:
        # Lambda refuses a result over its limit (API Gateway then answers a bare 502): check
        # here, where the answer can still say why.
        size = len(json.dumps(answer))
        if size > LAMBDA_RESPONSE_PAYLOAD_BYTES:
            log.note(outcome="response too large", responseBytes=len(body))
            return _too_large(f"answer is {size:,} bytes encoded"), stored is None
    log.note(outcome="answered", responseBytes=len(body))
    return answer, stored is None


def _channel_lost(what: str) -> dict[str, Any]:
    answer = _text(502, f"The tunnel {what}; retry.")
    answer["headers"]["x-tunnel-error"] = "answer-channel-lost"
    return answer


def _too_large(size: str) -> dict[str, Any]:
    answer = _text(
        502,
        f"The local service's response {size}; the tunnel carries at most "
        f"{MAX_BODY_BYTES:,} bytes of body ({LAMBDA_RESPONSE_PAYLOAD_BYTES:,} bytes encoded).",
    )
    answer["headers"]["x-tunnel-error"] = "response-too-large"
    return answer


def _read_request(event: Any) -> Incoming | dict[str, Any]:
    """The request, or an answer for an event that is not an HTTP API 2.0 request."""
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
    host = host if isinstance(host, str) else ""
    try:
        public_url = PublicUrl(os.environ.get("PUBLIC_URL_FORMAT", ""))
    except PublicUrlError:
        return _text(502, "The tunnel is misconfigured (PUBLIC_URL_FORMAT).")
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
    origin = _origin(headers, host, public_url)
    route_cookie = None
    if public_url.by_path:
        cookies, route_cookie = path_form.split_cookies(cookies, origin.scheme)
    # API Gateway joins repeated headers with commas and moves cookies out of the headers.
    # The caller's hop-by-hop headers (and what its Connection names), forwarding headers and
    # client claims go here, before the tunnel sets its own: none can reach the app, nor have
    # the agent drop the tunnel's.
    dropped = edge_dropped(headers.items())
    pairs = sorted(
        (name, value)
        for name, value in headers.items()
        if (key := name.lower()) != "cookie" and key not in dropped and not is_forwarding(key)
    )
    source_ip = http.get("sourceIp")
    pairs += [
        ("x-forwarded-for", source_ip if isinstance(source_ip, str) else ""),
        ("x-forwarded-host", host),
        ("x-forwarded-port", str(origin.port)),
        ("x-forwarded-proto", origin.scheme),
    ]
    return Incoming(
        method,
        raw_path,
        raw_query,
        pairs,
        cookies,
        route_cookie,
        data,
        origin,
        public_url,
        public_url.locate(host, raw_path),
    )


def _origin(headers: dict[str, str], host: str, public_url: PublicUrl) -> path_form.Origin:
    """The public origin as the caller used it: the Host, and API Gateway's
    ``x-forwarded-proto`` and ``-port`` (https and 443 on AWS, which serves nothing else; the
    local gateway's http and its own port). A value that is not exactly one scheme or one port
    gives way to the public URL's own."""
    configured = urlsplit(public_url.format)
    scheme = headers.get("x-forwarded-proto", "").strip().lower()
    if scheme not in path_form.DEFAULT_PORTS:
        scheme = configured.scheme.lower()
        scheme = scheme if scheme in path_form.DEFAULT_PORTS else "https"
    port_text = headers.get("x-forwarded-port", "").strip()
    if _PORT.fullmatch(port_text) and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        try:
            port = configured.port or path_form.DEFAULT_PORTS[scheme]
        except ValueError:
            port = path_form.DEFAULT_PORTS[scheme]
    return path_form.Origin(scheme, host_name(host), port)


def _route(incoming: Incoming, log: Invocation) -> tuple[PublicRequest, str] | dict[str, Any]:
    """The request as its tunnel gets it, and the tunnel's connection; or the answer (404,
    the bare tunnel root's redirect, the endpoint's own root). Under the path form, a first
    segment that is a live tunnel costs one claim read, as by Host; one that is not, one more
    for the routing cookie's tunnel."""
    located = incoming.located
    if not incoming.public_url.by_path:
        if located is None:
            return _endpoint_root(incoming, log)
        if not SUBDOMAIN.match(located.subdomain):
            return _no_tunnel(log)
        connection_id = _owner(located.subdomain, log)
        if connection_id is None:
            return _no_tunnel(log, located.subdomain)
        return _public_request(incoming, located.subdomain, located.path), connection_id
    segment = located.subdomain if located and SUBDOMAIN.match(located.subdomain) else None
    if located is not None and segment is not None:
        connection_id = _owner(segment, log)
        if connection_id is not None:
            prefix = f"/{segment}"
            added = ()
            if incoming.route_cookie != segment:
                added = (path_form.set_route_cookie(segment, incoming.origin.scheme),)
            if located.needs_slash and incoming.method in ("GET", "HEAD"):
                query = f"?{incoming.raw_query}" if incoming.raw_query else ""
                answer: dict[str, Any] = {
                    "statusCode": 308,
                    "headers": {"location": f"{prefix}/{query}"},
                    "body": "",
                }
                if added:
                    answer["cookies"] = list(added)
                return answer
            request = _public_request(incoming, segment, located.path, prefix, True, added)
            return request, connection_id
    cookie = incoming.route_cookie
    if cookie is not None:
        if SUBDOMAIN.match(cookie) and cookie != segment:
            connection_id = _owner(cookie, log)
            if connection_id is not None:
                # Sent back under the tunnel's prefix (307 keeps the method and the body),
                # not forwarded from here: the app's cookies are scoped to /<subdomain>/, so
                # only there does the browser send them (a login form posting to /admin/login/
                # needs its CSRF cookie). One hop more per absolute link, none for scripts.
                log.note(routedBy="cookie", outcome="redirected")
                query = f"?{incoming.raw_query}" if incoming.raw_query else ""
                return {
                    "statusCode": 307,
                    "headers": {"location": f"/{cookie}{incoming.raw_path}{query}"},
                    "body": "",
                }
        # The tunnel this browser was visiting is gone: nothing else answers in its place.
        answer = _no_tunnel(log, cookie=True)
        answer["cookies"] = [path_form.clear_route_cookie(incoming.origin.scheme)]
        return answer
    if located is None:
        return _endpoint_root(incoming, log)
    return _no_tunnel(log, segment)


def _endpoint_root(incoming: Incoming, log: Invocation) -> dict[str, Any]:
    """A request that names no tunnel: at ``/`` it says where tunnels are."""
    if incoming.raw_path in ("", "/") and incoming.method in ("GET", "HEAD"):
        url_format = incoming.public_url.format
        return _text(200, f"This is an http-tunnel: tunnels answer at {url_format}.")
    return _no_tunnel(log)


def _public_request(
    incoming: Incoming,
    subdomain: str,
    path: str,
    cookie_path: str = "",
    by_prefix: bool = False,
    added: tuple[str, ...] = (),
) -> PublicRequest:
    """The request for ``subdomain``'s agent. Under the path form ``cookie_path`` is its
    prefix (``/<subdomain>``); ``by_prefix`` when the request came by it (then taken off
    ``path`` already, and named in ``X-Forwarded-Prefix``), not by the routing cookie."""
    headers = incoming.headers
    if by_prefix:
        headers = [*headers, ("x-forwarded-prefix", cookie_path)]
    return PublicRequest(
        subdomain,
        incoming.method,
        path,
        incoming.raw_query,
        headers,
        incoming.cookies,
        incoming.body,
        incoming.origin,
        cookie_path,
        added,
    )


def _no_tunnel(
    log: Invocation, subdomain: str | None = None, cookie: bool = False
) -> dict[str, Any]:
    """The 404 for a request no live tunnel takes. It names the tunnel only when the Host or
    the path named one (a checked DNS label); never what a cookie said."""
    log.note(outcome="no tunnel", **({"routedBy": "cookie"} if cookie else {}))
    if subdomain is None:
        return _text(404, "No tunnel at this address.")
    log.note(subdomain=subdomain)
    return _text(404, f"No tunnel is connected at {subdomain}.")


def _claim(subdomain: str) -> dict[str, Any] | None:
    """The subdomain's claim while it routes: neither past its ``ttl`` nor its token's expiry.
    Read consistently: the claim is the one item that names the owner (the index does not)."""
    item = connections_table().get_item(Key=claim_key(subdomain), ConsistentRead=True).get("Item")
    now = int(time.time())
    if not item or int(item.get("ttl", 0)) <= now or not isinstance(item.get("owner"), str):
        return None
    return item


def _owner(subdomain: str, log: Invocation) -> str | None:
    """The connection that owns the subdomain's claim; an owner whose token has expired is
    told and closed, and routes nothing. One whose token was revoked is told and closed too,
    and the request is refused (``Revoked``)."""
    claim = _claim(subdomain)
    if claim is None:
        return None
    owner = str(claim["owner"])
    if int(claim.get("expires", 2**62)) <= time.time():
        log.note(closed=owner, reason="token expired")
        close_connection(owner, "the token expired; issue a new one with `tunnel token`")
        return None
    token_id = claim.get("tokenId")
    if isinstance(token_id, str) and _revoked(token_id, time.monotonic()):
        log.note(closed=owner, reason="token revoked", subdomain=subdomain)
        close_connection(owner, "the token was revoked; issue a new one with `tunnel token`")
        raise Revoked(subdomain)
    return owner


# Per container: token id -> (revoked, when read, on the monotonic clock).
_revocations: dict[str, tuple[bool, float]] = {}


def _revoked(token_id: str, now: float) -> bool:
    """Whether the token's record says it was revoked, read at most once per
    REVOCATION_CHECK_SECONDS (a revoked one stays revoked). A token without a record was let
    in by the authorizer, which admits recorded tokens only: its record is not yet readable
    (eventually consistent), and it is not revoked."""
    known = _revocations.get(token_id)
    if known is not None and (known[0] or now - known[1] < REVOCATION_CHECK_SECONDS):
        return known[0]
    record = token_records.find(tokens_table(), token_id)
    revoked = record is not None and record.revoked_at is not None
    if len(_revocations) >= 10_000:
        _revocations.clear()  # a warm container's memory, not a record of every token
    _revocations[token_id] = (revoked, now)
    return revoked


def close_connection(connection_id: str, reason: str) -> None:
    """Tell the agent why (``closed`` is final for it), then close its connection."""
    for call in (
        lambda: agent_connections().post_to_connection(
            ConnectionId=connection_id,
            Data=protocol.closed_message(reason).encode(),
        ),
        lambda: agent_connections().delete_connection(ConnectionId=connection_id),
    ):
        try:
            call()
        except agent_connections().exceptions.GoneException:
            return


_GONE: dict[str, Any] = {}


def _wait(
    waiter: Waiter, subdomain: str, connection_id: str, seconds: float
) -> tuple[protocol.Response | dict[str, Any] | None, int]:
    """The agent's answer, ``_GONE`` if its connection went away, or None after ``seconds``;
    and how many liveness checks it took (``ChannelLost`` when the answers socket is). A claim
    that no longer names the connection (a reconnect of the same session took it over, or
    $disconnect released it) is a reason to ask API Gateway, not proof: the replaced connection
    stays open and answers what it was sent."""
    deadline = time.monotonic() + seconds
    checks = 0
    while True:
        left = deadline - time.monotonic()
        answer = waiter.wait(min(LIVENESS_CHECK_SECONDS, max(0.0, left)))
        if answer is not None:
            return answer, checks
        if time.monotonic() >= deadline:
            return None, checks
        checks += 1
        claim = _claim(subdomain)
        if (claim is None or claim["owner"] != connection_id) and _gone(connection_id):
            return _GONE, checks


def _gone(connection_id: str) -> bool:
    """Only a 410 from GetConnection says a connection is gone."""
    try:
        agent_connections().get_connection(ConnectionId=connection_id)
    except agent_connections().exceptions.GoneException:
        return True
    return False


def _http_response(
    response: protocol.Response, body: bytes, request: PublicRequest
) -> dict[str, Any]:
    """An HTTP API 2.0 response: each Set-Cookie through ``cookies``, host-only for the
    tunnel's host, the body as base64; under the path form ``Location`` back under the
    tunnel's prefix and the routing cookie added (tunnel_shared.path_form)."""
    headers: dict[str, str] = {}
    set_cookies: list[str] = []
    prefix = request.cookie_path
    pairs = response.headers
    # Per-hop headers describe the agent's local connection, not the public one.
    dropped = HOP_BY_HOP | FRAMING | named_by_connection(pairs)
    for name, value in pairs:
        key = name.lower()
        if key in dropped:
            continue
        if key == "set-cookie":
            if prefix and path_form.is_route_cookie(value):
                continue  # the tunnel's own routing cookie: no app sets it
            set_cookies.append(cookies.scoped(value, request.public_host, prefix))
            continue
        if key == "location" and prefix:
            value = path_form.prefixed_location(value, prefix, request.origin)
        if key in headers:
            headers[key] += f", {value}"
        else:
            headers[key] = value
    set_cookies += request.added_cookies
    answer: dict[str, Any] = {
        "statusCode": response.status,
        "headers": headers,
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    if set_cookies:
        answer["cookies"] = set_cookies
    return answer


def _text(status: int, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "text/plain; charset=utf-8"},
        "body": message + "\n",
        "isBase64Encoded": False,
    }
