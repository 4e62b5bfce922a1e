"""The tunnel's WebSocket messages, as JSON objects.

Agent → API (routed on ``action`` by the WebSocket API's ``$request.body.action``):
    {"action": "ready"}
        Sent once after the connection opens. The API answers with ``registered``; nothing can
        be posted to a connection from ``$connect`` (API Gateway answers 410 until it returns).
    {"action": "ping"}
        A heartbeat, well inside the 10-minute idle timeout. No answer.
    {"action": "response", "requestId": str, "status": int,
     "headers": [[name, value], ...], "body": base64}
        The local service's answer to a ``request``. Repeated headers stay repeated, each
        ``set-cookie`` among them. A body too large for the message goes to the request's
        ``responseBodyUrl`` first; the message then has ``"bodyStored": <bytes>`` and no body.
        ``"replyTo"`` and ``"replyMac"`` are the request's, echoed unchanged (``response``
        checks them: tunnel_shared.reply).
        A streamed answer (the request said ``"stream": true``) starts with a head instead:
        ``"streamed": true`` and neither ``body`` nor ``bodyStored``; its body follows as
        ``chunk`` messages and ``end``. A streamed request may still be answered by one whole
        ``response`` (an agent that predates streaming, or an error the agent made itself before
        the local service's headers arrived): then there are no chunks and no end.
    {"action": "chunk", "requestId": str, "seq": int, "data": base64}
        The next part of a streamed body, as the local service produced it: ``seq`` counts the
        request's chunks from 0; ``data`` is at most ``chunk_capacity`` bytes (what fits in
        one message with this request's id and reply fields). ``replyTo``/``replyMac`` as in
        ``response``. A part too large for a message (at most ``STREAM_PART_BYTES``) is
        uploaded first with the request's ``partsUpload``, under the key its ``key`` field
        gives with ``${filename}`` replaced by the chunk's ``seq``; the chunk then has
        ``"stored": <bytes>`` and no ``data``.
    {"action": "end", "requestId": str, "chunks": int}
        The streamed body is complete after ``chunks`` chunks (seq 0 to chunks - 1). With
        ``"error": str`` (1 to ``MAX_REASON_CHARS``) it is not: the body broke off there (the
        local service failed or went quiet, the deadline passed) and the caller must be able
        to tell that from success. ``replyTo``/``replyMac`` as in ``response``.

API → agent (posted to the connection through the @connections management API):
    {"type": "registered", "subdomain": str, "url": str}
    {"type": "request", "requestId": str, "method": str, "rawPath": str,
     "rawQueryString": str, "headers": [[name, value], ...], "cookies": [str, ...],
     "body": base64, "responseBodyUrl": str}
        ``rawPath`` and ``rawQueryString`` are verbatim from the public request; headers keep
        every value (API Gateway joins repeated ones with commas; they are split back only for
        ``cookie``, which arrives separately as ``cookies``). A body too large for the message
        is in S3 instead: ``"bodyUrl"`` (a presigned GET) and ``"bodyBytes"`` replace ``body``.
        ``responseBodyUrl`` is a presigned PUT for this request's response body, for when it
        is too large for a message (tunnel_shared.bodies).
        Optional, and ignored by agents that predate them (they read only the fields they know):
        ``"deadlineMs": int``, the milliseconds the forwarding function still waits for the
        answer (its deadline less the time already spent: relative, because the agent's clock
        is not Lambda's; the agent counts it from the message's arrival and closes the local
        connection when it runs out; without it, ``limits.REQUEST_DEADLINE_SECONDS``), and
        ``"inFlightPerTunnel": int``, the tunnel's cap on requests in flight
        (``throttling.tunnel_in_flight``), which the agent also holds its local requests to.
        ``"replyTo": str`` and ``"replyMac": str``: where the answer goes (the forwarding
        container's connection to the answers API) and the MAC that binds that address to
        this request and this agent's connection (tunnel_shared.reply). The agent copies both
        into its ``response`` (and ``chunk`` and ``end``) unchanged and reads nothing else
        into them.
        ``"stream": true``: answer as it comes (a head, chunks, an end) rather than whole;
        only the streaming edge sets it. Without it the answer is one ``response``. With it,
        ``"partsUpload": {"url": str, "fields": {str: str}}``: a presigned S3 POST (a form
        upload) for the stream's large parts, one object per chunk (tunnel_shared.bodies).
    {"type": "cancel", "requestId": str}
        The caller went away (or nobody waits for the answer any more): the agent closes the
        request's local connection at once and sends nothing more for it. A cancel for a
        request the agent is not answering is ignored.
    {"type": "rejected", "reason": str}
        A message the API could not accept (malformed, unknown action, unknown request).
    {"type": "replaced"}
        A newer connection of the same agent session holds the subdomain: this one finishes its
        requests in flight and closes (the server closes it after a short drain).
    {"type": "closed", "reason": str}
        The server ends the tunnel (its token was revoked or expired, or it sent too much):
        final, the agent does not reconnect.

The answers API (internal, IAM-authorised; a forwarding container's own connection):
    {"action": "whoami"}
        forwarding → API: asks for the connection's own id (a client cannot learn it otherwise).
    {"type": "you", "connectionId": str}
        API → forwarding: the answer to ``whoami`` (the ``response`` function posts it).
    {"type": "answer", "requestId": str, "status": int, "headers": [[name, value], ...],
     "body": base64}
        API → forwarding: an agent's ``response``, its MAC checked, without the reply fields;
        ``"bodyStored": <bytes>`` instead of ``body`` when the body went to S3;
        ``"streamed": true`` and no body for a streamed answer's head.
    {"type": "answer_chunk", "requestId": str, "seq": int, "data": base64}
        (or ``"stored": <bytes>`` for a part in S3, as in ``chunk``)
    {"type": "answer_end", "requestId": str, "chunks": int[, "error": str]}
        API → forwarding: an agent's ``chunk`` and ``end``, their MACs checked, without the
        reply fields. Each agent message is a Lambda invocation of its own, so these may be
        posted out of order: the reader puts them back in order by ``seq``
        (``answers.Waiter.stream``).

Every message kind has a builder (``<kind>_message``) and a parser (``parse_<kind>``, from the
JSON object ``parse_agent_message`` or ``parse_server_message`` returns); a parsed message is
the builder's arguments again. A ``requestId`` is 1 to ``MAX_REQUEST_ID_CHARS`` characters
(``valid_request_id``); a ``reason`` at most ``MAX_REASON_CHARS``.

Every message, envelope included, is at most 128 KB; senders split it into frames of at most
32 KB.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from tunnel_shared.limits import MAX_MESSAGE_BYTES, STREAM_PART_BYTES

# The handler contract: the messages above, and the events and variables each function takes.
# Every function we deploy carries it as the tag PROTOCOL_TAG (tunnel_infra/aws/awslambda.py); an
# existing function named in existing_functions must carry the same value, which preflight
# checks. Raise it when a change breaks a function written against the previous contract.
PROTOCOL_TAG = "tunnel-protocol"
PROTOCOL_VERSION = "1"
ACTIONS = ("ready", "ping", "response", "chunk", "end")
ANSWERS_ACTIONS = ("whoami",)
TYPES = ("registered", "request", "replaced", "closed", "rejected", "cancel")
MAX_STATUS = 599
MIN_STATUS = 100
MAX_REQUEST_ID_CHARS = 64
MAX_REASON_CHARS = 200
# A replyTo (an API Gateway connection id, 16 characters today) and a replyMac (43); generous.
MAX_REPLY_CHARS = 128
# A streamed body's chunks are numbered 0 to MAX_SEQ: at one chunk a millisecond, 24 days.
MAX_SEQ = 2**31 - 1
METHOD = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$")  # an RFC 9110 token


class ProtocolError(ValueError):
    """A message that does not follow the protocol; the message says what is wrong."""


@dataclass(frozen=True)
class Reply:
    """Where a request's answer goes (``replyTo``) and the MAC that binds it (``replyMac``)."""

    reply_to: str
    reply_mac: str


@dataclass(frozen=True)
class Response:
    """A ``response`` (and an ``answer``, whose ``reply`` is always None)."""

    request_id: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    # Set when the body was uploaded to the request's responseBodyUrl: its size in bytes.
    stored_bytes: int | None = None
    reply: Reply | None = None
    # A streamed answer's head: no body here, it follows as chunks and an end.
    streamed: bool = False


@dataclass(frozen=True)
class Chunk:
    """A ``chunk`` (and an ``answer_chunk``, whose ``reply`` is always None): its ``data``, or
    (``stored_bytes``) the size of the part it names in S3, ``data`` then empty."""

    request_id: str
    seq: int
    data: bytes
    reply: Reply | None = None
    stored_bytes: int | None = None


@dataclass(frozen=True)
class PartsUpload:
    """A presigned S3 POST: the form's action ``url`` and the ``fields`` to send before the
    file (their ``key`` has ``${filename}`` where a part's ``seq`` goes)."""

    url: str
    fields: dict[str, str]

    def key(self, seq: int) -> str:
        return self.fields["key"].replace("${filename}", str(seq))


@dataclass(frozen=True)
class End:
    """An ``end`` (and an ``answer_end``): ``chunks`` were sent; ``error`` says why the body
    broke off there, None when it is complete."""

    request_id: str
    chunks: int
    error: str | None = None
    reply: Reply | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Cancel:
    request_id: str


@dataclass(frozen=True)
class You:
    connection_id: str


@dataclass(frozen=True)
class StoredBody:
    """A body in S3: a presigned URL to it, and its size."""

    url: str
    size: int


@dataclass(frozen=True)
class Ready:
    pass


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class Registered:
    subdomain: str | None
    url: str


@dataclass(frozen=True)
class Request:
    """A ``request``'s fields, checked; ``body`` is empty when ``stored_body`` is set. The
    budget fields are None when the sender gave none (an older forwarding function)."""

    request_id: str
    method: str
    raw_path: str
    raw_query_string: str
    headers: list[tuple[str, str]]
    cookies: list[str]
    body: bytes
    response_body_url: str = ""
    stored_body: StoredBody | None = None
    deadline_ms: int | None = None
    in_flight_per_tunnel: int | None = None
    reply: Reply | None = None
    # The caller's edge streams: answer with a head, chunks and an end.
    stream: bool = False
    # Where a stream's large parts go (None: an older forwarding function; all go inline).
    parts_upload: PartsUpload | None = None


@dataclass(frozen=True)
class Replaced:
    pass


@dataclass(frozen=True)
class Closed:
    reason: str


@dataclass(frozen=True)
class Rejected:
    reason: str


def valid_request_id(value: object) -> str | None:
    """``value`` if it is a valid ``requestId`` (1 to MAX_REQUEST_ID_CHARS characters)."""
    if isinstance(value, str) and 0 < len(value) <= MAX_REQUEST_ID_CHARS:
        return value
    return None


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), sort_keys=True)


def ready_message() -> str:
    return encode({"action": "ready"})


def ping_message() -> str:
    return encode({"action": "ping"})


def registered_message(subdomain: str, url: str) -> str:
    return encode({"type": "registered", "subdomain": subdomain, "url": url})


def replaced_message() -> str:
    return encode({"type": "replaced"})


def closed_message(reason: str) -> str:
    return encode({"type": "closed", "reason": reason[:MAX_REASON_CHARS]})


def rejected_message(reason: str) -> str:
    return encode({"type": "rejected", "reason": reason[:MAX_REASON_CHARS]})


def request_message(
    request_id: str,
    method: str,
    raw_path: str,
    raw_query_string: str,
    headers: list[tuple[str, str]],
    cookies: list[str],
    body: bytes,
    response_body_url: str = "",
    stored_body: StoredBody | None = None,
    *,
    deadline_ms: int | None = None,
    in_flight_per_tunnel: int | None = None,
    reply: Reply | None = None,
    stream: bool = False,
    parts_upload: PartsUpload | None = None,
) -> str:
    """A ``request``: with ``body`` inline, or (``stored_body``) a presigned URL to it; with
    the agent's budget (``deadline_ms``) and the tunnel's cap, when given; ``stream`` asks for
    a streamed answer (``"stream": true``; absent otherwise, as before), ``parts_upload`` says
    where its large parts go."""
    message: dict[str, Any] = {
        "type": "request",
        "requestId": request_id,
        "method": method,
        "rawPath": raw_path,
        "rawQueryString": raw_query_string,
        "headers": [list(pair) for pair in headers],
        "cookies": list(cookies),
    }
    if response_body_url:
        message["responseBodyUrl"] = response_body_url
    if deadline_ms is not None:
        message["deadlineMs"] = max(0, int(deadline_ms))
    if in_flight_per_tunnel is not None:
        message["inFlightPerTunnel"] = int(in_flight_per_tunnel)
    if stream:
        message["stream"] = True
    if parts_upload is not None:
        message["partsUpload"] = {"url": parts_upload.url, "fields": dict(parts_upload.fields)}
    _add_reply(message, reply)
    if stored_body is None:
        message["body"] = base64.b64encode(body).decode()
    else:
        message["bodyUrl"] = stored_body.url
        message["bodyBytes"] = stored_body.size
    return encode(message)


def inline_size(message_without_body: str, body_bytes: int) -> int:
    """The size a message built with an empty body would have with ``body_bytes`` inline."""
    return len(message_without_body.encode()) + 4 * ((body_bytes + 2) // 3)


def response_message(
    request_id: str,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes | bytearray,
    stored_bytes: int | None = None,
    reply: Reply | None = None,
    streamed: bool = False,
) -> str:
    """A ``response``: with ``body`` inline, or saying its ``stored_bytes`` were uploaded, or
    (``streamed``) a streamed answer's head, without a body; with the request's ``reply``
    fields echoed when it had them."""
    message = _answer_fields(request_id, status, headers, body, stored_bytes, streamed)
    message["action"] = "response"
    _add_reply(message, reply)
    return encode(message)


def answer_message(
    request_id: str,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes | bytearray,
    stored_bytes: int | None = None,
    streamed: bool = False,
) -> str:
    """An ``answer`` for the forwarding container waiting on the answers API (``streamed``: a
    streamed answer's head)."""
    message = _answer_fields(request_id, status, headers, body, stored_bytes, streamed)
    message["type"] = "answer"
    return encode(message)


def chunk_message(
    request_id: str,
    seq: int,
    data: bytes | bytearray | memoryview,
    reply: Reply | None = None,
    stored_bytes: int | None = None,
) -> str:
    """A ``chunk`` of a streamed body (``data``: at most ``chunk_capacity`` bytes), or naming
    the part of ``stored_bytes`` uploaded for its ``seq`` (``data`` empty)."""
    message = _chunk_fields(request_id, seq, data, stored_bytes)
    message["action"] = "chunk"
    _add_reply(message, reply)
    return encode(message)


def answer_chunk_message(
    request_id: str,
    seq: int,
    data: bytes | bytearray | memoryview,
    stored_bytes: int | None = None,
) -> str:
    """An ``answer_chunk``: an agent's ``chunk``, checked, for the waiting container."""
    message = _chunk_fields(request_id, seq, data, stored_bytes)
    message["type"] = "answer_chunk"
    return encode(message)


def end_message(
    request_id: str, chunks: int, error: str | None = None, reply: Reply | None = None
) -> str:
    """The ``end`` of a streamed body after ``chunks`` chunks; ``error`` when it broke off (an
    empty one is written as "failed": an error is never mistaken for success)."""
    message = _end_fields(request_id, chunks, error)
    message["action"] = "end"
    _add_reply(message, reply)
    return encode(message)


def answer_end_message(request_id: str, chunks: int, error: str | None = None) -> str:
    """An ``answer_end``: an agent's ``end``, checked, for the waiting container."""
    message = _end_fields(request_id, chunks, error)
    message["type"] = "answer_end"
    return encode(message)


def cancel_message(request_id: str) -> str:
    """Tell the agent nobody waits for ``request_id`` any more."""
    return encode({"type": "cancel", "requestId": request_id})


def chunk_capacity(request_id: str, reply: Reply | None) -> int:
    """The most bytes of data a ``chunk`` for this request can carry within a message
    (``MAX_MESSAGE_BYTES``), its reply fields and the largest ``seq`` included; so does the
    ``answer_chunk`` that ``response`` posts for it (smaller unless there are no reply
    fields)."""
    envelope = max(
        len(chunk_message(request_id, MAX_SEQ, b"", reply).encode()),
        len(answer_chunk_message(request_id, MAX_SEQ, b"").encode()),
    )
    return max(0, (MAX_MESSAGE_BYTES - envelope) // 4 * 3)  # base64: 4 characters per 3 bytes


def whoami_message() -> str:
    return encode({"action": "whoami"})


def you_message(connection_id: str) -> str:
    return encode({"type": "you", "connectionId": connection_id})


def _answer_fields(
    request_id: str,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes | bytearray,
    stored_bytes: int | None,
    streamed: bool = False,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "requestId": request_id,
        "status": status,
        "headers": [list(pair) for pair in headers],
    }
    if streamed:
        message["streamed"] = True
    elif stored_bytes is None:
        message["body"] = base64.b64encode(body).decode()
    else:
        message["bodyStored"] = stored_bytes
    return message


def _chunk_fields(
    request_id: str, seq: int, data: bytes | bytearray | memoryview, stored_bytes: int | None
) -> dict[str, Any]:
    if stored_bytes is not None:
        return {"requestId": request_id, "seq": seq, "stored": stored_bytes}
    return {"requestId": request_id, "seq": seq, "data": base64.b64encode(data).decode()}


def _end_fields(request_id: str, chunks: int, error: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"requestId": request_id, "chunks": chunks}
    if error is not None:
        message["error"] = error[:MAX_REASON_CHARS] or "failed"
    return message


def _add_reply(message: dict[str, Any], reply: Reply | None) -> None:
    if reply is not None:
        message["replyTo"] = reply.reply_to
        message["replyMac"] = reply.reply_mac


def reply_of(message: dict[str, Any]) -> Reply | None:
    """A message's ``replyTo`` and ``replyMac``: None when it has neither; both must be text
    of 1 to MAX_REPLY_CHARS characters."""
    reply_to, reply_mac = message.get("replyTo"), message.get("replyMac")
    if reply_to is None and reply_mac is None:
        return None
    for value in (reply_to, reply_mac):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_REPLY_CHARS:
            raise ProtocolError(
                f"replyTo and replyMac must both be text of 1 to {MAX_REPLY_CHARS} characters"
            )
    return Reply(str(reply_to), str(reply_mac))


def parse_agent_message(raw: object) -> dict[str, Any]:
    """A message from an agent, checked: its size, JSON shape and ``action``."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode()
        except UnicodeDecodeError:
            raise ProtocolError("message is not UTF-8 text") from None
    if not isinstance(raw, str) or not raw:
        raise ProtocolError("empty message")
    if len(raw.encode()) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        message = json.loads(raw)
    except ValueError:
        raise ProtocolError("message is not JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("message is not a JSON object")
    action = message.get("action")
    if action not in ACTIONS:
        raise ProtocolError(f"unknown action {str(action)[:40]!r}")
    return message


def parse_response(message: dict[str, Any]) -> Response:
    """The fields of a ``response`` message, checked (its reply fields too, when present)."""
    response = _parse_answer_fields(message, "response")
    reply = reply_of(message)
    return response if reply is None else replace(response, reply=reply)


def parse_answer(message: dict[str, Any]) -> Response:
    """The fields of an ``answer`` message (from ``parse_server_message``), checked."""
    _expect(message, "type", "answer")
    return _parse_answer_fields(message, "answer")


def parse_chunk(message: dict[str, Any]) -> Chunk:
    """The fields of a ``chunk`` message, checked (its reply fields too, when present)."""
    _expect(message, "action", "chunk")
    return replace(_parse_chunk_fields(message, "chunk"), reply=reply_of(message))


def parse_answer_chunk(message: dict[str, Any]) -> Chunk:
    """The fields of an ``answer_chunk`` (from ``parse_server_message``), checked."""
    _expect(message, "type", "answer_chunk")
    return _parse_chunk_fields(message, "answer_chunk")


def parse_end(message: dict[str, Any]) -> End:
    """The fields of an ``end`` message, checked (its reply fields too, when present)."""
    _expect(message, "action", "end")
    return replace(_parse_end_fields(message, "end"), reply=reply_of(message))


def parse_answer_end(message: dict[str, Any]) -> End:
    """The fields of an ``answer_end`` (from ``parse_server_message``), checked."""
    _expect(message, "type", "answer_end")
    return _parse_end_fields(message, "answer_end")


def parse_cancel(message: dict[str, Any]) -> Cancel:
    _expect(message, "type", "cancel")
    request_id = valid_request_id(message.get("requestId"))
    if request_id is None:
        raise ProtocolError("cancel without a valid requestId")
    return Cancel(request_id)


def _parse_chunk_fields(message: dict[str, Any], kind: str) -> Chunk:
    request_id = valid_request_id(message.get("requestId"))
    if request_id is None:
        raise ProtocolError(f"{kind} without a valid requestId")
    seq = message.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
        raise ProtocolError(f"{kind} seq must be a whole number from 0 to {MAX_SEQ}")
    if "stored" in message:
        stored = message["stored"]
        if (
            not isinstance(stored, int)
            or isinstance(stored, bool)
            or not 1 <= stored <= STREAM_PART_BYTES
            or "data" in message
        ):
            raise ProtocolError(
                f"{kind} stored must be a byte count from 1 to {STREAM_PART_BYTES}, without data"
            )
        return Chunk(request_id, seq, b"", stored_bytes=stored)
    if "data" not in message:
        raise ProtocolError(f"{kind} without data")
    return Chunk(request_id, seq, base64_body(message["data"], kind))


def _parse_end_fields(message: dict[str, Any], kind: str) -> End:
    request_id = valid_request_id(message.get("requestId"))
    if request_id is None:
        raise ProtocolError(f"{kind} without a valid requestId")
    chunks = message.get("chunks")
    if not isinstance(chunks, int) or isinstance(chunks, bool) or not 0 <= chunks <= MAX_SEQ + 1:
        raise ProtocolError(f"{kind} chunks must be a whole number from 0 to {MAX_SEQ + 1}")
    error = message.get("error")
    if error is not None and (not isinstance(error, str) or not 0 < len(error) <= MAX_REASON_CHARS):
        raise ProtocolError(f"{kind} error must be text of 1 to {MAX_REASON_CHARS} characters")
    return End(request_id, chunks, error)


def parse_whoami(message: dict[str, Any]) -> None:
    _expect(message, "action", "whoami")


def parse_you(message: dict[str, Any]) -> You:
    _expect(message, "type", "you")
    connection_id = message.get("connectionId")
    if not isinstance(connection_id, str) or not 0 < len(connection_id) <= MAX_REPLY_CHARS:
        raise ProtocolError("'you' without a valid connectionId")
    return You(connection_id)


def _parse_answer_fields(message: dict[str, Any], kind: str) -> Response:
    request_id = valid_request_id(message.get("requestId"))
    if request_id is None:
        raise ProtocolError(f"{kind} without a valid requestId")
    status = message.get("status")
    if (
        not isinstance(status, int)
        or isinstance(status, bool)
        or not MIN_STATUS <= status <= MAX_STATUS
    ):
        raise ProtocolError(f"{kind} status must be an integer from 100 to 599")
    headers = header_pairs(message.get("headers", []), kind)
    streamed = message.get("streamed", False)
    if streamed is not False:
        if streamed is not True:
            raise ProtocolError(f"{kind} streamed must be true when present")
        if "body" in message or "bodyStored" in message:
            raise ProtocolError(f"a streamed {kind} has no body: its chunks carry it")
        return Response(request_id, status, headers, b"", streamed=True)
    stored = message.get("bodyStored")
    if stored is None:
        return Response(request_id, status, headers, base64_body(message.get("body", ""), kind))
    if not isinstance(stored, int) or isinstance(stored, bool) or stored < 0:
        raise ProtocolError(f"{kind} bodyStored must be a byte count")
    if "body" in message:
        raise ProtocolError(f"a {kind} has either a body or bodyStored, not both")
    return Response(request_id, status, headers, b"", stored_bytes=stored)


def parse_ready(message: dict[str, Any]) -> Ready:
    _expect(message, "action", "ready")
    return Ready()


def parse_ping(message: dict[str, Any]) -> Ping:
    _expect(message, "action", "ping")
    return Ping()


def parse_server_message(raw: str | bytes) -> dict[str, Any]:
    """A message from the API: a JSON object with a string ``type`` (unknown types are the
    reader's to ignore: a newer server may send more)."""
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProtocolError("not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("not a JSON object with a type")
    return message


def parse_registered(message: dict[str, Any]) -> Registered:
    _expect(message, "type", "registered")
    url, subdomain = message.get("url"), message.get("subdomain")
    if not isinstance(url, str) or not url:
        raise ProtocolError("the server's 'registered' message has no url")
    return Registered(subdomain if isinstance(subdomain, str) else None, url)


def parse_request(message: dict[str, Any]) -> Request:
    """The fields of a ``request`` message, checked. Its requestId is checked first, so a
    reader can still answer (with an error) a request whose other fields are wrong:
    ``valid_request_id(message.get("requestId"))``."""
    _expect(message, "type", "request")
    request_id = valid_request_id(message.get("requestId"))
    if request_id is None:
        raise ProtocolError("request without a valid requestId")
    method = message.get("method")
    if not isinstance(method, str) or not METHOD.match(method):
        raise ProtocolError("request without a valid method")
    raw_path = message.get("rawPath", "/")
    raw_query = message.get("rawQueryString", "")
    if not isinstance(raw_path, str) or not isinstance(raw_query, str):
        raise ProtocolError("rawPath and rawQueryString must be strings")
    cookies = message.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise ProtocolError("request cookies must be a list of strings")
    response_url = message.get("responseBodyUrl", "")
    if not isinstance(response_url, str):
        raise ProtocolError("request responseBodyUrl must be a string")
    headers = header_pairs(message.get("headers", []), "request")
    stream = message.get("stream", False)
    if not isinstance(stream, bool):
        raise ProtocolError("request stream must be true or false")
    budget = {
        "deadline_ms": request_deadline_ms(message),
        "in_flight_per_tunnel": request_in_flight_per_tunnel(message),
        "reply": reply_of(message),
        "stream": stream,
        "parts_upload": _parts_upload(message.get("partsUpload")),
    }
    parts = (request_id, method, raw_path, raw_query, headers, list(cookies))
    if "bodyUrl" in message:
        body_url, size = message.get("bodyUrl"), message.get("bodyBytes")
        if not isinstance(body_url, str) or not body_url.startswith(("https://", "http://")):
            raise ProtocolError("request bodyUrl must be an http(s) URL")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ProtocolError("request bodyBytes must be a byte count")
        return Request(*parts, b"", response_url, StoredBody(body_url, size), **budget)
    body = base64_body(message.get("body") or "", "request")
    return Request(*parts, body, response_url, **budget)


def _parts_upload(value: object) -> PartsUpload | None:
    """A request's ``partsUpload``, checked (None when absent)."""
    if value is None:
        return None
    url = value.get("url") if isinstance(value, dict) else None
    fields = value.get("fields") if isinstance(value, dict) else None
    if (
        not isinstance(url, str)
        or not url.startswith(("https://", "http://"))
        or not isinstance(fields, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
        or "${filename}" not in fields.get("key", "")
    ):
        raise ProtocolError(
            "request partsUpload must be {url: an http(s) URL, fields: {name: text}} with a "
            "key that holds ${filename}"
        )
    return PartsUpload(url, dict(fields))


def parse_replaced(message: dict[str, Any]) -> Replaced:
    _expect(message, "type", "replaced")
    return Replaced()


def parse_closed(message: dict[str, Any]) -> Closed:
    _expect(message, "type", "closed")
    return Closed(_reason(message))


def parse_rejected(message: dict[str, Any]) -> Rejected:
    _expect(message, "type", "rejected")
    return Rejected(_reason(message))


def _expect(message: dict[str, Any], field: str, kind: str) -> None:
    if message.get(field) != kind:
        raise ProtocolError(f"not a {kind!r} message")


def _reason(message: dict[str, Any]) -> str:
    """A message's ``reason``: any text, at most MAX_REASON_CHARS (a reader prints it)."""
    reason = message.get("reason", "")
    if not isinstance(reason, str):
        raise ProtocolError("a reason must be text")
    return reason[:MAX_REASON_CHARS]


def header_pairs(value: object, kind: str) -> list[tuple[str, str]]:
    """A message's ``[[name, value], ...]`` headers, checked; ``kind`` names the message."""
    if not isinstance(value, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)
        for pair in value
    ):
        raise ProtocolError(f"{kind} headers must be [[name, value], ...] strings")
    return [(name, text) for name, text in value]


def base64_body(value: object, kind: str) -> bytes:
    """A message's base64 body, decoded; ``kind`` names the message."""
    if not isinstance(value, str):
        raise ProtocolError(f"{kind} body must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{kind} body is not valid base64") from None


def request_deadline_ms(message: dict[str, Any]) -> int | None:
    """A ``request``'s ``deadlineMs``, checked: None when absent (an older sender)."""
    return _count(message, "deadlineMs", 0)


def request_in_flight_per_tunnel(message: dict[str, Any]) -> int | None:
    """A ``request``'s ``inFlightPerTunnel``, checked: None when absent (an older sender)."""
    return _count(message, "inFlightPerTunnel", 1)


def _count(message: dict[str, Any], name: str, least: int) -> int | None:
    value = message.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ProtocolError(f"request {name} must be a whole number of at least {least}")
    return value
