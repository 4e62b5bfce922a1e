"""``$default``: what agents send: ``ready`` (answered with ``registered``), ``ping``,
``response`` (the answer to a request, or a streamed answer's head), ``chunk`` and ``end`` (a
streamed answer's body and its end); and the answers API's ``whoami`` (a forwarding container
asking its own connection id, answered with ``you`` on that API).

A response goes on only if its ``replyMac`` is the MAC of its requestId, the connection that
sent it and its ``replyTo`` (tunnel_shared.reply, compared in constant time): the request was
sent to this very connection with that reply address, so no agent can answer another tunnel's
request nor aim at an address its request did not name. It is then posted to ``replyTo``, the
waiting forwarding container's answers connection, as an ``answer`` (without the reply fields;
never larger than the response). A 410 there means the request ended (its deadline passed, or
its container is gone): the answer is dropped and logged. Anything else is rejected and logged
and never raises out of the handler.

A streamed answer's head and each of its ``chunk`` and ``end`` messages are checked the same
way, each on its own (every agent message is an invocation of its own, so they may be posted
out of order: the container puts them back in order by ``seq``), and posted as ``answer``
(``streamed``), ``answer_chunk`` and ``answer_end``. When the head or a chunk meets a 410, nobody
will read the rest: the agent is sent ``cancel`` for the request, so it closes the local
connection and stops sending. That keeps the "dropped" lines to the few messages already on
their way, without the function keeping any state per request.

Every message that answers no request (``ready``, ``ping``, a rejected or unreadable message)
is counted against the connection's allowance (tunnel_shared.connections.count_unanswered): an
agent over it is told (``closed``) and its connection closed, so that one agent cannot spend
the WebSocket stage's shared message rate. A replaced connection that speaks after its drain,
or a connection the table does not know, is closed without a word (its agent's newer
connection carries on). A response to a real request costs nothing more than its own write;
so do a streamed answer's chunks and end (their MAC proves the request real).
"""

from __future__ import annotations

import os
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared import events, protocol, reply
from tunnel_shared.connections import (
    MESSAGE_BURST,
    MESSAGE_INTERVAL_SECONDS,
    Verdict,
    count_unanswered,
)
from tunnel_shared.log import Invocation
from tunnel_shared.public_url import PublicUrl, PublicUrlError
from tunnel_shared.resources import (
    agent_connections,
    answers_connections,
    connections_table,
    reply_key,
)

# The answers API's one route besides $connect (its RouteSelectionExpression is the action).
WHOAMI_ROUTE = "whoami"

# What an agent sends about a request, and what each becomes on the answers API.
RELAYED = ("response", "chunk", "end")

OVER_RATE_REASON = (
    f"too many messages that answer no request (a burst of {MESSAGE_BURST}, then one per "
    f"{MESSAGE_INTERVAL_SECONDS} s): check --heartbeat"
)


def handler(event: Any, context: Any) -> dict[str, Any]:
    with Invocation("response", context) as log:
        try:
            connection_id = events.connection_id(event)
        except events.BadEvent as error:
            log.note(outcome="rejected", reason=str(error))
            return {"statusCode": 400}
        log.note(connectionId=connection_id)
        try:
            if events.request_context(event).get("routeKey") == WHOAMI_ROUTE:
                return _whoami(connection_id, log)
            return _handle(connection_id, event, log)
        except (BotoCoreError, ClientError) as error:
            log.note(outcome="error", error=type(error).__name__)
            return {"statusCode": 500}


def _handle(connection_id: str, event: Any, log: Invocation) -> dict[str, Any]:
    try:
        message = protocol.parse_agent_message(event.get("body"))
    except protocol.ProtocolError as error:
        log.note(outcome="rejected", reason=str(error))
        _limit(connection_id, log)
        return {"statusCode": 400}
    action = message["action"]
    log.note(action=action)
    if action in RELAYED:
        return _relay(connection_id, message, log)
    verdict, item = _limit(connection_id, log)
    if verdict is not Verdict.OK:  # closed: unknown (404), over its allowance or drain (429)
        return {"statusCode": 404 if verdict is Verdict.UNKNOWN else 429}
    if action == "ready":
        return _register(connection_id, item, log)
    log.note(outcome="ok")
    return {"statusCode": 200}


def _limit(connection_id: str, log: Invocation) -> tuple[Verdict, dict[str, Any]]:
    """Count a message that answers no request: the verdict, and the connection's item when it
    may go on; a connection that may not is closed first (module docstring)."""
    verdict, item = count_unanswered(connections_table(), connection_id, int(time.time()))
    if verdict is Verdict.OK:
        return verdict, item
    log.note(outcome="closed", reason=verdict.value)
    if verdict is Verdict.OVER_RATE:
        _tell(connection_id, protocol.closed_message(OVER_RATE_REASON))
    try:
        agent_connections().delete_connection(ConnectionId=connection_id)
    except (BotoCoreError, ClientError):
        pass  # gone already
    return verdict, item


def _register(connection_id: str, item: dict[str, Any], log: Invocation) -> dict[str, Any]:
    # ``item`` is the connection's item as the allowance's update left it: $connect wrote it
    # before returning, and an update always sees the latest.
    subdomain = item.get("publicSubdomain")
    if not isinstance(subdomain, str):
        log.note(outcome="rejected", reason="unknown connection")
        return {"statusCode": 404}
    try:
        url = PublicUrl(os.environ.get("PUBLIC_URL_FORMAT", "")).url(subdomain)
    except PublicUrlError as error:
        log.note(outcome="error", reason=str(error))
        return {"statusCode": 500}
    _post(connection_id, protocol.registered_message(subdomain, url))
    log.note(outcome="registered", subdomain=subdomain)
    return {"statusCode": 200}


def _whoami(connection_id: str, log: Invocation) -> dict[str, Any]:
    """Tell a forwarding container its own answers connection id (nothing else says it)."""
    try:
        answers_connections().post_to_connection(
            ConnectionId=connection_id, Data=protocol.you_message(connection_id).encode()
        )
    except answers_connections().exceptions.GoneException:
        log.note(outcome="gone", route=WHOAMI_ROUTE)  # it closed before its answer
        return {"statusCode": 410}
    log.note(outcome="you", route=WHOAMI_ROUTE)
    return {"statusCode": 200}


def _relay(connection_id: str, message: dict[str, Any], log: Invocation) -> dict[str, Any]:
    """Check a ``response``, ``chunk`` or ``end`` (its MAC binds it to a request sent to this
    connection) and post what it says to the request's ``replyTo`` (module docstring)."""
    action = message["action"]
    try:
        parsed, answer = _answer_for(action, message, log)
    except protocol.ProtocolError as error:
        log.note(outcome="rejected", reason=str(error))
        if _limit(connection_id, log)[0] is Verdict.OK:
            _tell(connection_id, protocol.rejected_message(str(error)))
        return {"statusCode": 400}
    sent = parsed.reply
    if sent is None or not reply.verify(
        reply_key(), sent.reply_mac, parsed.request_id, connection_id, sent.reply_to
    ):
        log.note(outcome="rejected", reason="reply address not this request's")
        if _limit(connection_id, log)[0] is Verdict.OK:
            reason = (
                f"{action} for {parsed.request_id} without the replyTo and replyMac "
                "its request gave this connection"
            )
            _tell(connection_id, protocol.rejected_message(reason))
        return {"statusCode": 403}
    try:
        answers_connections().post_to_connection(ConnectionId=sent.reply_to, Data=answer.encode())
    except answers_connections().exceptions.GoneException:
        # The request ended (its deadline passed, its caller left) or its container is gone:
        # nobody waits. More of a stream would follow: the agent is told to stop.
        more = action == "chunk" or (action == "response" and parsed.streamed)
        if more:
            _tell(connection_id, protocol.cancel_message(parsed.request_id))
        log.note(
            outcome="dropped",
            reason="the request's answers connection is gone (410)",
            agentCancelled=more,
        )
        return {"statusCode": 200}
    log.note(outcome="answered", replyTo=sent.reply_to)
    return {"statusCode": 200}


def _answer_for(
    action: str, message: dict[str, Any], log: Invocation
) -> tuple[protocol.Response | protocol.Chunk | protocol.End, str]:
    """The agent's message parsed, and the answers API message it becomes (never larger)."""
    if action == "chunk":
        chunk = protocol.parse_chunk(message)
        stored = chunk.stored_bytes
        log.note(requestId=chunk.request_id, seq=chunk.seq, bytes=stored or len(chunk.data))
        if stored is not None:
            log.note(stored=True)
        answer = protocol.answer_chunk_message(chunk.request_id, chunk.seq, chunk.data, stored)
        return chunk, answer
    if action == "end":
        end = protocol.parse_end(message)
        log.note(requestId=end.request_id, chunks=end.chunks, ok=end.ok)
        return end, protocol.answer_end_message(end.request_id, end.chunks, end.error)
    response = protocol.parse_response(message)
    log.note(requestId=response.request_id, status=response.status)
    if response.streamed:
        log.note(streamed=True)
    answer = protocol.answer_message(
        response.request_id,
        response.status,
        response.headers,
        response.body,
        response.stored_bytes,
        streamed=response.streamed,
    )
    return response, answer


def _tell(connection_id: str, message: str) -> None:
    """Tell the agent; it may be gone already, which changes nothing."""
    try:
        _post(connection_id, message)
    except (BotoCoreError, ClientError):
        pass


def _post(connection_id: str, message: str) -> None:
    agent_connections().post_to_connection(ConnectionId=connection_id, Data=message.encode())
