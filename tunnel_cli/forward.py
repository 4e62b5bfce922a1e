"""Forwarding one tunnelled request to the local service.

The HTTP client is the standard library's ``http.client``, one connection per request, run in
a daemon thread. Why:

- It is byte-faithful. It never decompresses (no ``Accept-Encoding`` is added, a gzip body comes
  back gzipped), it sends the raw path and query string as given (no re-quoting or
  normalisation), it keeps every response header pair in order (several ``Set-Cookie`` stay
  several), and it knows HEAD, 204 and 304 have no body. ``Transfer-Encoding: chunked`` is
  framing, not content: it is undone and the body returned whole, as the tunnel must.
- It adds no dependency to the agent (``websockets`` is its only one), and nothing to audit.
- Blocking calls in threads are simple and plenty for a developer's tunnel. Daemon threads (not
  an executor) do not cap concurrency at the executor's few workers and never hold up Ctrl-C on
  a hung local service.

Bodies: one that fits a 128 KB WebSocket message travels in it. A larger request body streams
from its presigned S3 GET into the local request; a larger response body streams from the local
service to its presigned S3 PUT (tunnel_cli.bodies). A response over the tunnel's ceiling
(``MAX_BODY_BYTES``) is answered 502 ``response-too-large`` as soon as its Content-Length says
so, unread.

aiohttp or httpx would also do, but both decompress by default and normalise URLs unless told
not to, and each brings a dependency tree; urllib adds headers and follows redirects.

Headers: every pair is sent, repeated ones included, except the hop-by-hop ones and those
``Connection`` names (tunnel_shared.headers; they described the public hop, not this one; the
forwarding function drops the caller's already), ``Expect`` (the body is already here) and
``Content-Length`` (recomputed from the body actually sent). ``cookie`` is rebuilt from the
request's ``cookies``, joined with ``"; "`` (RFC 6265 §5.4), because API Gateway's payload 2.0
moves cookies out of the headers.

Host: the public Host is kept by default (``--host-header preserve``), as ngrok does. The app
then builds absolute URLs, redirects, cookies and OAuth callbacks for the name its users see,
and the request reaches it as sent. Dev servers that only accept ``localhost`` (Vite, webpack,
Django's ``ALLOWED_HOSTS``, Rails' ``config.hosts``) can be given ``--host-header rewrite``:
Host becomes ``<local-host>:<port>`` and the public one moves to ``X-Forwarded-Host``, replacing
any the caller sent (exactly one, and the true one). Otherwise the ``X-Forwarded-*`` headers are
the forwarding function's (For, Host, Proto and Port as the public caller used them, and Prefix
under the path form; the caller's own are replaced there) and pass as they came; the agent adds
none. No header is ever read as an address: the local connection goes to the configured host and
port only, and the target is the request's own path.

Target: only an origin-form target (RFC 9112 §3.2.1: an absolute path, then the query) reaches
the local service. Anything else in ``rawPath`` (``http://169.254.169.254/...``, an authority,
``*``, nothing) is answered 400 ``bad-target`` by the agent itself: a local service given an
absolute-form target may treat it as a proxy request to wherever it names.

Errors: the agent's own answers (502 when the local service refuses, is silent or fails, or a
body cannot be moved) tell the public caller only what happened, never the local address or an
exception's text; that detail goes to the agent's terminal (``LocalResponse.error``).

Deadline: every request has one, the time the public side still waits for it
(tunnel_cli.deadline). ``forward`` waits for the thread until then; at the deadline it shuts
down the request's connections (the local service sees its connection closed; the blocked read
in the thread returns, and the thread ends), and answers nothing: the public caller already has
its 504. A response that ends in time is read whole, chunked or not, as before.

Streaming (a request with ``stream``, sent only by the streaming edge): ``stream_blocking``
hands on the local service's answer as it comes, through ``emit``: a ``StreamHead`` as soon as
its status and headers are read, then each piece of the body as soon as the socket has it
(``read1``: one server-sent event goes out alone, at once, never waiting for a buffer to fill),
at most ``chunk_bytes`` each, then a ``StreamEnd`` (with an error when the body broke off or the
local service went quiet for ``idle_timeout``). Nothing is held beyond the piece being handed
on; ``Pipe`` makes the thread wait while the event loop has ``slots`` pieces still to send, so
memory stays bounded whatever the size. A failure before the headers is one whole
``LocalResponse`` (the same 502s as above), emitted instead of a head.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, Union

from tunnel_shared.headers import FRAMING, HOP_BY_HOP, named_by_connection
from tunnel_shared.limits import MAX_BODY_BYTES, MAX_MESSAGE_BYTES
from tunnel_shared.protocol import MAX_REPLY_CHARS, PartsUpload, Reply, response_message

from tunnel_cli.bodies import CHUNK_BYTES, TransferError, download, upload
from tunnel_cli.deadline import Deadline

# Methods whose requests carry a Content-Length even when empty (as http.client itself does).
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# A request id as long as the protocol allows, to size a response message before it exists.
_LONGEST_ID = "r" * 64
# The reply fields the agent echoes, at their longest (protocol.MAX_REPLY_CHARS each).
_LONGEST_REPLY = Reply("t" * MAX_REPLY_CHARS, "m" * MAX_REPLY_CHARS)
HOST_HEADER_POLICIES = ("preserve", "rewrite")

T = TypeVar("T")


@dataclass(frozen=True)
class LocalRequest:
    method: str
    raw_path: str
    raw_query_string: str
    headers: list[tuple[str, str]]
    cookies: list[str]
    body: bytes
    # A body too large for the message: its presigned GET and its size (then ``body`` is b"").
    body_url: str = ""
    body_bytes: int = 0
    # Where a response body too large for a message goes (a presigned PUT), if anywhere.
    response_url: str = ""
    # The caller's edge streams: answer as the body comes (``stream_blocking``).
    stream: bool = False
    # Where a stream's parts too large for a message go (a presigned POST), if anywhere.
    parts_upload: PartsUpload | None = None

    @property
    def size(self) -> int:
        return self.body_bytes if self.body_url else len(self.body)

    @property
    def target(self) -> str:
        path = self.raw_path or "/"
        return f"{path}?{self.raw_query_string}" if self.raw_query_string else path


@dataclass(frozen=True)
class LocalResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes | bytearray
    # Set when the body went to the request's presigned PUT (then ``body`` is b""): its size.
    stored_bytes: int | None = None
    # Set when the agent made this answer itself (the local service failed); says why.
    error: str | None = None

    @property
    def size(self) -> int:
        return len(self.body) if self.stored_bytes is None else self.stored_bytes


@dataclass
class BodyTap:
    """The first ``limit`` bytes of each body that streams past (to or from S3), kept for the
    request inspector; bodies carried in a message are in the request and response already."""

    limit: int
    request: bytearray = field(default_factory=bytearray)
    response: bytearray = field(default_factory=bytearray)

    def keep(self, buffer: bytearray, chunk: bytes | bytearray | memoryview) -> None:
        room = self.limit - len(buffer)
        if room > 0:
            buffer += chunk[:room]


class _TappedReader:
    """A response stream that copies what is read from it into a tap."""

    def __init__(self, source: http.client.HTTPResponse, tap: BodyTap) -> None:
        self._source = source
        self._tap = tap

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        self._tap.keep(self._tap.response, chunk)
        return chunk


@dataclass(frozen=True)
class StreamHead:
    """A streamed answer's status and headers (hop-by-hop ones removed)."""

    status: int
    headers: list[tuple[str, str]]


@dataclass(frozen=True)
class StreamEnd:
    """A streamed body is over: complete, or (``error``, for the caller; ``detail``, for the
    agent's terminal) broken off."""

    error: str | None = None
    detail: str | None = None


# What ``stream_blocking`` emits: a head (or a whole answer, when none came), body pieces, an end.
StreamItem = Union[StreamHead, LocalResponse, bytes, StreamEnd]  # noqa: UP007 (a runtime alias)


class Abandoned(Exception):
    """Nobody reads the stream any more (the caller left, the agent stops)."""


_NOTHING = object()


class Pipe:
    """From a request's thread to the event loop: ``put`` waits while ``slots`` items are still
    to be sent (``sent`` frees one), so a fast local service never runs ahead of the WebSocket;
    ``abandon`` ends the thread's next (or current) ``put`` with ``Abandoned``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, slots: int) -> None:
        self._loop = loop
        self._items: asyncio.Queue[object] = asyncio.Queue()
        self._next: object = _NOTHING  # taken by ``gather`` but not its to take
        self._slots = threading.Semaphore(slots)
        self._abandoned = threading.Event()

    def put(self, item: StreamItem) -> None:
        """From the thread: hand ``item`` on, once a slot is free."""
        self._slots.acquire()
        if self._abandoned.is_set():
            raise Abandoned
        try:
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)
        except RuntimeError:  # the loop has closed
            raise Abandoned from None

    def interrupt(self, item: object) -> None:
        """From the loop: put ``item`` before anything still to come (a cancel)."""
        self._items.put_nowait(item)

    async def get(self) -> object:
        if self._next is not _NOTHING:
            item, self._next = self._next, _NOTHING
            return item
        return await self._items.get()

    def gather(self, first: bytes, limit: int) -> bytes:
        """``first`` and the body pieces already waiting after it, up to ``limit`` bytes in all:
        what the local service produced faster than it could be sent (each one taken is
        ``sent``). Anything else waiting, or a piece that would pass ``limit``, stays next."""
        pieces, size = [first], len(first)
        while self._next is _NOTHING and not self._items.empty():
            item = self._items.get_nowait()
            if not isinstance(item, bytes) or size + len(item) > limit:
                self._next = item
                break
            pieces.append(item)
            size += len(item)
            self.sent()
        return first if len(pieces) == 1 else b"".join(pieces)

    def sent(self) -> None:
        self._slots.release()

    def abandon(self) -> None:
        self._abandoned.set()
        self._slots.release()  # wakes a put waiting for a slot


def is_origin_form(raw_path: str) -> bool:
    """Whether ``raw_path`` is an absolute path (``/``, ``/a/b``, ``//x``, ``/a%2Fb``): what may
    be sent as a request target before the query. A scheme or authority never starts with
    ``/``; ``?`` and ``#`` would end the path early."""
    return raw_path.startswith("/") and not any(c in raw_path for c in "?#")


def request_headers(
    request: LocalRequest, local_address: str, host_header: str = "preserve"
) -> list[tuple[str, str]]:
    """The header pairs to send to the local service (see the module docstring)."""
    dropped = HOP_BY_HOP | FRAMING | named_by_connection(request.headers) | {"expect"}
    if request.cookies:
        dropped |= {"cookie"}
    public_host = next((v for n, v in request.headers if n.lower() == "host"), None)
    rewrite = host_header == "rewrite" and public_host is not None
    if rewrite:
        dropped |= {"host", "x-forwarded-host"}  # the caller's own X-Forwarded-Host included
    elif public_host is None:
        dropped |= {"host"}
    headers = [(name, value) for name, value in request.headers if name.lower() not in dropped]
    if public_host is None or rewrite:
        headers.insert(0, ("Host", local_address))
    if rewrite:
        headers.append(("X-Forwarded-Host", public_host))
    if request.cookies:
        headers.append(("cookie", "; ".join(request.cookies)))
    had_length = any(name.lower() == "content-length" for name, _ in request.headers)
    if request.size or had_length or request.method.upper() in BODY_METHODS:
        headers.append(("Content-Length", str(request.size)))
    return headers


def response_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The local service's header pairs, hop-by-hop ones removed; repeats and order kept."""
    dropped = HOP_BY_HOP | named_by_connection(headers)
    return [(name, value) for name, value in headers if name.lower() not in dropped]


def error_response(status: int, kind: str, text: str, detail: str | None = None) -> LocalResponse:
    """An answer the agent makes itself: ``text`` as a one-line public body, and
    ``x-tunnel-error``. ``detail`` (default: ``text``) is for the agent's terminal only."""
    headers = [("content-type", "text/plain; charset=utf-8"), ("x-tunnel-error", kind)]
    return LocalResponse(status, headers, f"tunnel: {text}\n".encode(), error=detail or text)


def bad_target() -> LocalResponse:
    """The 400 for a request target that is not a path (module docstring)."""
    return error_response(400, "bad-target", "the request target is not a path")


def agent_busy(cap: int) -> LocalResponse:
    """The 503 for a request over the tunnel's cap of local requests (``cap``), made without
    contacting the local service; ``Retry-After: 1`` as the forwarding function's 429 has."""
    busy = error_response(
        503,
        "agent-busy",
        "the tunnel's agent has too many requests in flight; retry",
        f"{cap} local requests already in flight (the tunnel's cap): answered 503 without "
        "contacting the local service",
    )
    return dataclasses.replace(busy, headers=[*busy.headers, ("retry-after", "1")])


def forward_blocking(
    request: LocalRequest,
    host: str,
    port: int,
    timeout: float,
    host_header: str = "preserve",
    tap: BodyTap | None = None,
    deadline: Deadline | None = None,
) -> LocalResponse:
    """Send ``request`` to ``http://host:port`` and read the answer. Never raises for the
    local service's failures: they become a 502 (see ``error_response``). A target that is not
    origin-form is answered 400 without contacting the local service. ``tap`` keeps the start
    of streamed bodies. Its connections are opened through ``deadline``, which can cut them
    from another thread (then what this returns is not an answer to send)."""
    if not is_origin_form(request.raw_path):
        return bad_target()
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    answer: http.client.HTTPResponse | None = None
    try:
        answer = _send(connection, request, address, timeout, host_header, tap, deadline)
        return _read_answer(answer, request.response_url, timeout, tap, deadline)
    except (TransferError, OSError, http.client.HTTPException, ValueError) as error:
        return _failed(error, address, timeout)
    finally:
        if deadline is not None:
            deadline.forget(connection)
        if answer is not None:
            answer.close()  # a response read to the connection's end holds the socket itself
        connection.close()


def _send(
    connection: http.client.HTTPConnection,
    request: LocalRequest,
    address: str,
    timeout: float,
    host_header: str,
    tap: BodyTap | None,
    deadline: Deadline | None,
) -> http.client.HTTPResponse:
    """Send ``request`` on ``connection`` (its body from S3 when stored); the response, its
    status and headers read."""
    if deadline is not None:
        deadline.connect(connection)
    connection.putrequest(
        request.method, _ascii_target(request.target), skip_host=True, skip_accept_encoding=True
    )
    for name, value in request_headers(request, address, host_header):
        connection.putheader(name, _header_bytes(value))
    if request.body_url:
        connection.endheaders()
        for chunk in download(request.body_url, request.body_bytes, timeout, deadline):
            connection.send(chunk)
            if tap is not None:
                tap.keep(tap.request, chunk)
    else:
        connection.endheaders(request.body or None)
    return connection.getresponse()


def _failed(error: Exception, address: str, timeout: float) -> LocalResponse:
    """The 502 for a local request that failed before its answer was read."""
    if isinstance(error, TransferError):
        return error_response(502, "body-transfer-failed", error.public, str(error))
    if isinstance(error, ConnectionRefusedError):
        return error_response(
            502,
            "local-refused",
            "the tunnel's local service refused the connection",
            f"connection refused by {address}",
        )
    if isinstance(error, TimeoutError):
        return error_response(
            502,
            "local-timeout",
            "the tunnel's local service did not answer in time",
            f"{address} did not answer within {timeout:g} s",
        )
    # ValueError: http.client refuses a header or method it cannot send.
    detail = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
    return error_response(
        502,
        "local-failed",
        "the tunnel's local service failed to answer",
        f"request to {address} failed: {detail}",
    )


def stream_blocking(
    request: LocalRequest,
    host: str,
    port: int,
    timeout: float,
    emit: Callable[[StreamItem], None],
    chunk_bytes: int,
    idle_timeout: float,
    host_header: str = "preserve",
    tap: BodyTap | None = None,
    deadline: Deadline | None = None,
) -> None:
    """Send ``request`` to ``http://host:port`` and ``emit`` its answer as it comes (module
    docstring): waiting ``timeout`` for the headers, ``idle_timeout`` for each piece after
    them. Never raises for the local service's failures; ``Abandoned`` from ``emit`` ends it
    quietly, the local connection closed."""
    if not is_origin_form(request.raw_path):
        emit(bad_target())
        return
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    answer: http.client.HTTPResponse | None = None
    try:
        try:
            answer = _send(connection, request, address, timeout, host_header, tap, deadline)
        except (TransferError, OSError, http.client.HTTPException, ValueError) as error:
            emit(_failed(error, address, timeout))
            return
        emit(StreamHead(answer.status, response_headers(answer.getheaders())))
        if connection.sock is not None:
            connection.sock.settimeout(idle_timeout)
        try:
            while chunk := answer.read1(chunk_bytes):
                if tap is not None:
                    tap.keep(tap.response, chunk)
                emit(chunk)
        except TimeoutError:
            emit(
                StreamEnd(
                    "the local service went quiet",
                    f"{address} sent nothing for {idle_timeout:g} s: the stream was ended",
                )
            )
            return
        except (OSError, http.client.HTTPException) as error:
            detail = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            emit(
                StreamEnd(
                    "the local service's response broke off",
                    f"the response from {address} broke off: {detail}",
                )
            )
            return
        if answer.length:  # read1 ends quietly where a Content-Length body was cut short
            emit(
                StreamEnd(
                    "the local service's response broke off",
                    f"the response from {address} ended {answer.length} bytes short of its "
                    "Content-Length",
                )
            )
            return
        emit(StreamEnd())
    except Abandoned:
        pass
    finally:
        if deadline is not None:
            deadline.forget(connection)
        if answer is not None:
            answer.close()
        connection.close()


def start_stream(
    pipe: Pipe,
    request: LocalRequest,
    host: str,
    port: int,
    timeout: float,
    chunk_bytes: int,
    idle_timeout: float,
    host_header: str = "preserve",
    tap: BodyTap | None = None,
    deadline: Deadline | None = None,
) -> threading.Thread:
    """``stream_blocking`` into ``pipe``, in a daemon thread of its own (module docstring)."""
    thread = threading.Thread(
        target=stream_blocking,
        args=(request, host, port, timeout, pipe.put, chunk_bytes, idle_timeout),
        kwargs={"host_header": host_header, "tap": tap, "deadline": deadline},
        name="tunnel-forward",
        daemon=True,
    )
    thread.start()
    return thread


def _read_answer(
    answer: http.client.HTTPResponse,
    response_url: str,
    timeout: float,
    tap: BodyTap | None,
    deadline: Deadline | None = None,
) -> LocalResponse:
    """The local service's answer, its body inline when it fits a message, else uploaded."""
    headers = response_headers(answer.getheaders())
    envelope = len(
        response_message(_LONGEST_ID, answer.status, headers, b"", reply=_LONGEST_REPLY).encode()
    )
    inline_limit = (MAX_MESSAGE_BYTES - envelope) * 3 // 4
    declared = answer.length  # None when chunked or read to the connection's end
    if declared is not None and declared > MAX_BODY_BYTES:
        return too_large(answer.status, f"{declared:,} bytes")
    if declared is not None and declared > inline_limit and response_url:
        source = answer if tap is None else _TappedReader(answer, tap)
        upload(response_url, source, declared, timeout, deadline)
        return LocalResponse(answer.status, headers, b"", stored_bytes=declared)
    body = bytearray()
    while len(body) <= MAX_BODY_BYTES and (chunk := answer.read(CHUNK_BYTES)):
        body += chunk
    if len(body) > MAX_BODY_BYTES:
        return too_large(answer.status, f"over {MAX_BODY_BYTES:,} bytes")
    if len(body) > inline_limit and response_url:
        upload(response_url, memoryview(body), len(body), timeout, deadline)
        if tap is not None:
            tap.keep(tap.response, memoryview(body))
        return LocalResponse(answer.status, headers, b"", stored_bytes=len(body))
    return LocalResponse(answer.status, headers, body)


def too_large(
    status: int, size: str, limit: str = f"the {MAX_BODY_BYTES:,} bytes of body the tunnel carries"
) -> LocalResponse:
    """The 502 for a local response whose body the tunnel cannot carry; names both sizes."""
    return error_response(
        502,
        "response-too-large",
        f"the local service's response ({status}, {size}) is larger than {limit}",
    )


async def forward(
    request: LocalRequest,
    host: str,
    port: int,
    timeout: float,
    host_header: str = "preserve",
    tap: BodyTap | None = None,
    deadline: Deadline | None = None,
) -> LocalResponse | None:
    """``forward_blocking`` in a daemon thread of its own; None when ``deadline`` came first:
    the request's connections are then shut down (module docstring) and nothing is to be sent."""

    def call() -> LocalResponse:
        return forward_blocking(request, host, port, timeout, host_header, tap, deadline)

    if deadline is None:
        return await in_daemon_thread(call)
    if deadline.remaining() <= 0:
        deadline.cut()
        return None
    future = _start_daemon_thread(call)
    try:
        done, _ = await asyncio.wait({future}, timeout=deadline.remaining())
    except asyncio.CancelledError:  # the agent is stopping: the local connection goes too
        deadline.cut()
        raise
    if future in done:
        return future.result()
    deadline.cut()
    # The thread ends on its own once its blocked call returns; its result goes unread.
    future.add_done_callback(lambda settled: settled.cancelled() or settled.exception())
    return None


async def in_daemon_thread(call: Callable[[], T]) -> T:
    """``call()``, blocking, in a daemon thread of its own (one the agent's exit never waits
    for)."""
    return await _start_daemon_thread(call)


def _start_daemon_thread(call: Callable[[], T]) -> asyncio.Future[T]:
    """``call()`` in a new daemon thread; its outcome, settled in the running loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # cancelled meanwhile (Ctrl-C, connection closed)
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = call(), None
        except BaseException as exc:  # handed to the awaiting task, not lost in the thread
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass

    threading.Thread(target=run, name="tunnel-forward", daemon=True).start()
    return future


_NOT_PRINTABLE_ASCII = re.compile(r"[^\x21-\x7e]")


def _ascii_target(target: str) -> str:
    """The request target as sent; only characters HTTP cannot carry raw are percent-encoded
    (API Gateway's rawPath is normally already encoded, so this rarely changes anything)."""
    return _NOT_PRINTABLE_ASCII.sub(
        lambda match: "".join(f"%{byte:02X}" for byte in match.group().encode()), target
    )


def _header_bytes(value: str) -> bytes:
    # http.client sends str values as Latin-1 and fails on anything else; UTF-8 is what a
    # client would most likely have sent for those.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()
