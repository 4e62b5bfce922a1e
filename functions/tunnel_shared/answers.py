"""A forwarding container's own connection to the answers API: where agents' answers arrive.

A small RFC 6455 client on the standard library alone (the function zips hold only our code):
TLS through ``ssl``, the upgrade request signed with SigV4 for ``execute-api`` (the answers
API's ``$connect`` is IAM-authorised), masked client frames, fragmented messages reassembled
(API Gateway splits a message into frames of at most ``MAX_FRAME_BYTES``), ping answered with
pong, close answered with close.

One reader thread per connection routes each ``answer`` to the invocation waiting for its
``requestId`` (``Channel.expect``); an answer nobody waits for (its request ended: a timeout, a
lost connection, a stale message buffered while the container was frozen) is dropped and
counted. The client is thread-safe: Lambda Managed Instances and the local gateway run several
invocations at once in one process, and all share one connection.

The connection is kept across invocations (module-level in the forwarding handler) and renewed
by the invocation that needs it, never by a timer: a library's keepalive timer fires on thaw
after a freeze (the monotonic clock runs on across it) and closes a healthy socket. Before each
request (``AnswersClient.channel``):
- no connection, or a closed one: connect (and learn the connection's id: ``whoami`` → ``you``);
- older than ``RENEW_AFTER_SECONDS`` (API Gateway closes it at 2 hours) or silent on our side
  for ``IDLE_RENEW_SECONDS`` (it closes an idle one at 10 minutes; a container frozen that long
  has lost it): connect a new one; the old one closes once its last waiter is done;
- quiet both ways for ``PROBE_AFTER_SECONDS`` (possibly a short freeze, after which the
  connection may be dead without a word): ask ``whoami`` again and wait for ``you`` first; no
  answer in time means a new connection;
- our side silent for ``KEEPALIVE_AFTER_SECONDS`` while answers still arrive: send ``whoami``
  without waiting (it counts as traffic for the idle timeout).
A connection lost while invocations wait fails their waits at once (``ChannelLost``).

A streamed answer (protocol: a head ``answer`` with ``streamed``, then ``answer_chunk`` and
``answer_end``) stays with its waiter until the invocation is done with it; each of its messages
was posted by an invocation of ``response`` of its own, so they may arrive in any order, and
``Waiter.stream`` hands them over in order: the head, the chunks by ``seq``, the end. What the
waiter holds of a stream is bounded (``STREAM_BUFFER_BYTES``): past it, or when nothing comes
for the idle time the caller gives, the stream is broken off (``StreamBroken``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from tunnel_shared import protocol
from tunnel_shared.limits import (
    IDLE_TIMEOUT_SECONDS,
    MAX_CONNECTION_SECONDS,
    MAX_FRAME_BYTES,
    MAX_MESSAGE_BYTES,
    STREAM_BUFFER_BYTES,
)

# RFC 6455 section 1.3: the GUID the server's Sec-WebSocket-Accept hashes with our key.
ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Renew ten minutes before API Gateway's 2-hour cap, and a minute before its idle timeout.
RENEW_AFTER_SECONDS = MAX_CONNECTION_SECONDS - 10 * 60
IDLE_RENEW_SECONDS = IDLE_TIMEOUT_SECONDS - 60
KEEPALIVE_AFTER_SECONDS = IDLE_TIMEOUT_SECONDS / 2
PROBE_AFTER_SECONDS = 60.0
# Connecting (TCP, TLS, upgrade) and learning the connection's id each take at most this long.
CONNECT_TIMEOUT_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 2.0
MAX_HANDSHAKE_BYTES = 16 * 1024

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA

# The headers to add to the upgrade request for ``url`` (its signature).
Signer = Callable[[str], dict[str, str]]
Clock = Callable[[], float]


class ChannelLost(Exception):
    """The answers connection closed (or could not be opened); the message says how."""


class StreamBroken(Exception):
    """A streamed answer cannot go on (nothing came in time, or too much is held waiting for
    a chunk that does not come); the message says which. Its caller must see an error."""


# What ``Waiter.stream`` yields: the head (or the whole answer), then chunks, then the end.
StreamPart = protocol.Response | protocol.Chunk | protocol.End


class _Violation(Exception):
    """The server broke the protocol: the connection is closed with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def sigv4_signer(region: str | None = None) -> Signer:
    """Sign the upgrade request (``GET <url>``) with SigV4 for ``execute-api``, with the
    function's own credentials (read at each connect: they rotate)."""
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = botocore.session.get_session()

    def sign(url: str) -> dict[str, str]:
        parts = urlsplit(url)
        signing_region = (
            region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or session.get_config_variable("region")
            or "us-east-1"
        )
        credentials = session.get_credentials()
        if credentials is None:
            raise ChannelLost("no AWS credentials to sign the answers connection with")
        https = parts._replace(scheme="https" if parts.scheme == "wss" else "http").geturl()
        request = AWSRequest(method="GET", url=https, headers={"host": parts.netloc})
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", signing_region).add_auth(
            request
        )
        return {name: value for name, value in request.headers.items() if name.lower() != "host"}

    return sign


class Waiter:
    """One invocation waiting for one request's answer (``with channel.expect(id) as w``):
    ``wait`` for a whole answer, ``stream`` for a streamed one."""

    def __init__(self, channel: Channel, request_id: str) -> None:
        self._channel = channel
        self.request_id = request_id
        self._done = threading.Event()
        self._answer: protocol.Response | None = None
        self._lost: str | None = None
        # A streamed answer's parts as they arrive, in any order (module docstring).
        self._arrived = threading.Condition()
        self._chunks: dict[int, protocol.Chunk] = {}
        self._end: protocol.End | None = None
        self._held = 0  # bytes of chunks held
        self._overflow = False

    def wait(self, seconds: float) -> protocol.Response | None:
        """The answer; None after ``seconds``; ``ChannelLost`` as soon as the connection is."""
        if not self._done.wait(max(0.0, seconds)):
            return None
        if self._answer is not None:
            return self._answer
        raise ChannelLost(self._lost or "the answers connection closed")

    def stream(self, idle_seconds: float) -> Iterator[StreamPart]:
        """A streamed answer's parts, in order: the head (a ``Response`` with ``streamed``),
        its chunks by ``seq`` from 0, and its ``End`` (``end.ok`` false: the body broke off).
        An answer that is not streamed (an older agent's, or an error the agent made before
        the local service answered) is yielded alone, whole. Each part is waited for at most
        ``idle_seconds``; then, or when too much is held (``STREAM_BUFFER_BYTES``),
        ``StreamBroken``; ``ChannelLost`` once the connection is lost and the parts already
        here are yielded."""
        head = self._next(lambda: self._answer, idle_seconds)
        yield head
        if not head.streamed:
            return
        seq = 0
        while True:
            part = self._next(functools.partial(self._take, seq), idle_seconds)
            yield part
            if isinstance(part, protocol.End):
                return
            seq += 1

    def _take(self, seq: int) -> protocol.Chunk | protocol.End | None:
        chunk = self._chunks.pop(seq, None)
        if chunk is not None:
            self._held -= len(chunk.data)
            return chunk
        if self._end is not None and self._end.chunks <= seq:
            return self._end
        return None

    def _next(self, take: Callable[[], StreamPart | None], idle_seconds: float) -> StreamPart:
        give_up = time.monotonic() + idle_seconds
        with self._arrived:
            while True:
                part = take()
                if part is not None:
                    return part
                if self._overflow:
                    raise StreamBroken(
                        f"over {STREAM_BUFFER_BYTES:,} bytes of the answer held waiting for a chunk"
                    )
                if self._lost is not None:
                    raise ChannelLost(self._lost)
                left = give_up - time.monotonic()
                if left <= 0:
                    raise StreamBroken(f"nothing of the answer came for {idle_seconds:g} s")
                self._arrived.wait(left)

    def _deliver(self, answer: protocol.Response) -> None:
        with self._arrived:
            self._answer = answer
            self._done.set()
            self._arrived.notify_all()

    def _deliver_part(self, part: protocol.Chunk | protocol.End) -> None:
        with self._arrived:
            if isinstance(part, protocol.End):
                self._end = self._end or part
            elif part.seq not in self._chunks:  # a repeat changes nothing
                self._chunks[part.seq] = part
                self._held += len(part.data)
                self._overflow = self._overflow or self._held > STREAM_BUFFER_BYTES
            self._arrived.notify_all()

    def _fail(self, reason: str) -> None:
        with self._arrived:
            self._lost = reason
            self._done.set()
            self._arrived.notify_all()

    def __enter__(self) -> Waiter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._channel._discard(self.request_id)


class Channel:
    """One open WebSocket connection to the answers API, and its reader thread."""

    def __init__(self, sock: socket.socket, reader: BinaryIO, clock: Clock) -> None:
        self._sock = sock
        self._reader = reader
        self._clock = clock
        self.connection_id: str | None = None
        self.opened = self.last_sent = self.last_received = clock()
        self.dropped = 0  # answers for no waiter: stale, or for a request that ended
        self.closed = threading.Event()
        self.close_reason = ""
        self._waiters: dict[str, Waiter] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._you = threading.Condition(self._lock)
        self._you_count = 0
        self._retired = False
        self._thread = threading.Thread(target=self._read_loop, name="answers", daemon=True)

    # --- what invocations call ---------------------------------------------------------------

    def expect(self, request_id: str) -> Waiter:
        """Register a waiter for ``request_id``'s answer, before the request is posted."""
        with self._lock:
            if self.closed.is_set():
                raise ChannelLost(self.close_reason or "the answers connection closed")
            waiter = Waiter(self, request_id)
            self._waiters[request_id] = waiter
            return waiter

    def whoami(self, seconds: float | None) -> str | None:
        """Ask for this connection's id; with ``seconds``, wait that long for ``you`` (the id,
        or None when it did not come); without, return at once (a keepalive)."""
        with self._lock:
            seen = self._you_count
        self.send_text(protocol.whoami_message())
        if seconds is None:
            return None
        deadline = self._clock() + seconds
        with self._lock:
            while self._you_count == seen and not self.closed.is_set():
                left = deadline - self._clock()
                if left <= 0 or not self._you.wait(left):
                    return None
            return self.connection_id if self._you_count != seen else None

    def send_text(self, text: str) -> None:
        self._send(TEXT, text.encode())

    def close(self, code: int = 1000, reason: str = "closed by the client") -> None:
        """Say goodbye (best effort) and close the socket; waiters fail at once."""
        if self.closed.is_set():
            return
        try:
            self._send(CLOSE, struct.pack("!H", code))
        except (OSError, ChannelLost):
            pass
        self._lost(reason)

    def retire(self) -> None:
        """No new waiters go here; close once the ones still waiting are done."""
        with self._lock:
            self._retired = True
            idle = not self._waiters
        if idle:
            self.close(1000, "renewed")

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiters)

    # --- frames out ----------------------------------------------------------------------------

    def _send(self, opcode: int, payload: bytes) -> None:
        """One message, masked, in frames of at most MAX_FRAME_BYTES (control frames: one)."""
        chunks = [payload[i : i + MAX_FRAME_BYTES] for i in range(0, len(payload), MAX_FRAME_BYTES)]
        frames = b"".join(
            _frame(opcode if index == 0 else CONTINUATION, chunk, index == len(chunks) - 1)
            for index, chunk in enumerate(chunks or [b""])
        )
        with self._send_lock:
            if self.closed.is_set():
                raise ChannelLost(self.close_reason or "the answers connection closed")
            try:
                self._sock.sendall(frames)
            except OSError as error:
                self._lost(f"the answers connection failed: {type(error).__name__}")
                raise ChannelLost(self.close_reason) from None
            self.last_sent = self._clock()

    # --- frames in -----------------------------------------------------------------------------

    def _start(self) -> None:
        self._thread.start()

    def _read_loop(self) -> None:
        reason = "the answers API closed the connection"
        try:
            for payload in self._messages():
                self.last_received = self._clock()
                self._dispatch(payload)
        except _Violation as violation:
            reason = f"the answers API broke the protocol: {violation}"
            try:
                self._send(CLOSE, struct.pack("!H", violation.code))
            except (OSError, ChannelLost):
                pass
        except (OSError, EOFError, ValueError, ChannelLost) as error:
            reason = f"the answers connection failed: {type(error).__name__}"
        self._lost(reason)

    def _messages(self) -> Iterator[bytes]:
        """Each complete data message; control frames answered in between; ends at close."""
        fragments: list[bytes] = []
        size = 0
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == CLOSE:
                try:
                    self._send(CLOSE, payload[:2])
                except (OSError, ChannelLost):
                    pass
                return
            if opcode == PING:
                self._send(PONG, payload)
                continue
            if opcode == PONG:
                continue
            if opcode in (TEXT, BINARY):
                if fragments:
                    raise _Violation(1002, "a new message began inside a fragmented one")
            elif opcode == CONTINUATION:
                if not fragments:
                    raise _Violation(1002, "a continuation frame began no message")
            else:
                raise _Violation(1002, f"unknown opcode {opcode}")
            fragments.append(payload)
            size += len(payload)
            if size > MAX_MESSAGE_BYTES:
                raise _Violation(1009, f"a message over {MAX_MESSAGE_BYTES} bytes")
            if fin:
                yield b"".join(fragments)
                fragments, size = [], 0

    def _read_frame(self) -> tuple[bool, int, bytes]:
        head = self._read_exactly(2)
        fin, opcode = bool(head[0] & 0x80), head[0] & 0x0F
        if head[0] & 0x70:
            raise _Violation(1002, "reserved bits set")
        if head[1] & 0x80:
            raise _Violation(1002, "a server frame was masked")
        length = head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        if opcode >= CLOSE and (length > 125 or not fin):
            raise _Violation(1002, "a control frame over 125 bytes or fragmented")
        if length > MAX_MESSAGE_BYTES:
            raise _Violation(1009, f"a frame over {MAX_MESSAGE_BYTES} bytes")
        return fin, opcode, self._read_exactly(length)

    def _read_exactly(self, count: int) -> bytes:
        data = self._reader.read(count) if count else b""
        if len(data) != count:
            raise EOFError("the connection ended")
        return data

    def _dispatch(self, payload: bytes) -> None:
        """``you`` names this connection; ``answer``, ``answer_chunk`` and ``answer_end`` go to
        their waiter or are dropped; anything else (API Gateway's own error messages have no
        ``type``) is ignored. A whole answer ends its wait; a streamed one's parts stay with
        the waiter until it is done (``_discard``)."""
        try:
            message = protocol.parse_server_message(payload)
            kind = message["type"]
            if kind == "you":
                you = protocol.parse_you(message)
                with self._lock:
                    self.connection_id = you.connection_id
                    self._you_count += 1
                    self._you.notify_all()
                return
            if kind == "answer":
                answer: StreamPart = protocol.parse_answer(message)
            elif kind == "answer_chunk":
                answer = protocol.parse_answer_chunk(message)
            elif kind == "answer_end":
                answer = protocol.parse_answer_end(message)
            else:
                return
        except protocol.ProtocolError:
            return
        whole = isinstance(answer, protocol.Response) and not answer.streamed
        with self._lock:
            if whole:
                waiter = self._waiters.pop(answer.request_id, None)
            else:
                waiter = self._waiters.get(answer.request_id)
            if waiter is None:
                self.dropped += 1
                return
        if isinstance(answer, protocol.Response):
            waiter._deliver(answer)
        else:
            waiter._deliver_part(answer)

    def _discard(self, request_id: str) -> None:
        with self._lock:
            self._waiters.pop(request_id, None)
            done = self._retired and not self._waiters
        if done:
            self.close(1000, "renewed")

    def _lost(self, reason: str) -> None:
        """The connection is over: every waiter fails now, not at its deadline."""
        with self._lock:
            if self.closed.is_set():
                return
            self.close_reason = reason
            self.closed.set()
            waiters = list(self._waiters.values())
            self._waiters.clear()
            self._you.notify_all()
        for waiter in waiters:
            waiter._fail(reason)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


def _frame(opcode: int, payload: bytes, fin: bool) -> bytes:
    """A client frame: masked with a fresh key (RFC 6455 section 5.3)."""
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", first, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, length)
    mask = os.urandom(4)
    # XOR by whole integers: far faster than byte by byte in Python.
    repeated = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        length, "big"
    )
    return head + mask + masked


def open_channel(
    url: str,
    sign: Signer | None,
    clock: Clock = time.monotonic,
    timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> Channel:
    """Connect to ``url`` (ws:// or wss://), upgrade with ``sign``'s headers, start reading,
    and learn the connection's id; ``ChannelLost`` saying why when any step fails."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ChannelLost(f"the answers URL is not a ws:// or wss:// URL: {url[:80]!r}")
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    try:
        sock = socket.create_connection((parts.hostname, port), timeout=timeout)
    except OSError as error:
        raise ChannelLost(f"could not reach the answers API: {type(error).__name__}") from None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if parts.scheme == "wss":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        reader = sock.makefile("rb")
        _upgrade(sock, reader, parts.netloc, (parts.path or "/") + _query(parts.query), url, sign)
        sock.settimeout(None)  # the reader thread blocks until a message or the end
    except (OSError, ValueError) as error:
        sock.close()
        raise ChannelLost(f"the answers connection failed: {type(error).__name__}") from None
    except ChannelLost:
        sock.close()
        raise
    channel = Channel(sock, reader, clock)
    channel._start()
    if channel.whoami(timeout) is None:
        channel.close(1000, "no 'you' in time")
        raise ChannelLost("the answers API did not say the connection's id in time")
    return channel


def _query(query: str) -> str:
    return f"?{query}" if query else ""


def _upgrade(
    sock: socket.socket, reader: BinaryIO, host: str, target: str, url: str, sign: Signer | None
) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    headers = {
        "Host": host,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
        **(sign(url) if sign is not None else {}),
    }
    lines = [f"GET {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    status_line = reader.readline(MAX_HANDSHAKE_BYTES).decode("latin-1")
    received: dict[str, str] = {}
    total = len(status_line)
    while True:
        line = reader.readline(MAX_HANDSHAKE_BYTES).decode("latin-1")
        total += len(line)
        if not line or total > MAX_HANDSHAKE_BYTES:
            raise ChannelLost("the answers API's upgrade answer was cut short or too long")
        if line in ("\r\n", "\n"):
            break
        name, _, value = line.partition(":")
        received[name.strip().lower()] = value.strip()
    status = status_line.split(" ", 2)
    if len(status) < 2 or status[1] != "101":
        code = status[1] if len(status) > 1 else "no status"
        raise ChannelLost(f"the answers API refused the connection ({code})")
    expected = base64.b64encode(hashlib.sha1((key + ACCEPT_GUID).encode()).digest()).decode()
    if received.get("sec-websocket-accept") != expected:
        raise ChannelLost("the answers API's upgrade answer has the wrong Sec-WebSocket-Accept")


class AnswersClient:
    """The container's one answers connection, renewed as the module docstring says."""

    def __init__(
        self,
        url: str,
        sign: Signer | None,
        clock: Clock = time.monotonic,
        connect: Callable[..., Channel] = open_channel,
    ) -> None:
        self.url = url
        self._sign = sign
        self._clock = clock
        self._connect = connect
        self._current: Channel | None = None
        self._lock = threading.Lock()
        self.connects = 0  # how many connections this container opened (logged)

    def channel(self) -> Channel:
        """A connection fit for a request now (module docstring), opened if need be."""
        with self._lock:  # concurrent invocations share one connect
            current = self._current
            now = self._clock()
            if current is not None and not current.closed.is_set():
                current = self._renewed(current, now)
            if current is None or current.closed.is_set():
                current = self._connect(self.url, self._sign, self._clock)
                self.connects += 1
                self._current = current
            return current

    def _renewed(self, current: Channel, now: float) -> Channel | None:
        """``current`` if it may carry a request now, else None (retired or closed)."""
        try:
            if (
                now - current.opened >= RENEW_AFTER_SECONDS
                or now - current.last_sent >= IDLE_RENEW_SECONDS
            ):
                current.retire()
                return None
            if now - max(current.last_sent, current.last_received) >= PROBE_AFTER_SECONDS:
                if current.whoami(PROBE_TIMEOUT_SECONDS) is None:
                    current.close(1000, "no answer to a probe")
                    return None
            elif now - current.last_sent >= KEEPALIVE_AFTER_SECONDS:
                current.whoami(None)
        except ChannelLost:
            return None
        return current

    def close(self) -> None:
        with self._lock:
            if self._current is not None:
                self._current.close()
                self._current = None


def connection_state(channel: Channel) -> dict[str, Any]:
    """What a log line says about the connection."""
    return {"answersConnection": channel.connection_id, "staleAnswersDropped": channel.dropped}
