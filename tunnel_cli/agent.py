"""The agent's connection loop: hold a WebSocket to API Gateway, answer what arrives on it.

One ``Session`` per WebSocket connection: it sends ``ready``, prints the public URL when the
API answers ``registered``, handles each ``request`` in a task of its own (so a slow local
endpoint never holds up the others), and sends an application-level ``ping`` every
``heartbeat_seconds`` (protocol pings reportedly do not count as activity for API Gateway's
10-minute idle timeout).

``Agent.run`` keeps one session alive until stopped:

- Every connection attempt carries the token and a **session secret** in its query
  (``?token=...&session=...``). The secret is random, made once per run and never printed: it
  proves to the server that a reconnect (after a drop, or the planned one below) comes from the
  same agent, so the server may hand it the subdomain even while an older connection of this
  agent still looks live.
- Any disconnect → reconnect with the same token and secret (so the same subdomain), after an
  exponential backoff: ``backoff_initial`` doubling to ``backoff_max``, each delay scaled by a
  random factor in ``1 ± backoff_jitter`` so that many agents cut off at once do not return in
  step. The backoff restarts once a connection has been registered.
- Before API Gateway's 2-hour cap, at ``rotate_seconds``, a new connection is opened first and
  the old one is closed only once the new one is registered (or the server says the old one was
  ``replaced``) and the old one's requests are answered (make before break: no window where
  the subdomain has no agent).
- ``{"type": "replaced"}`` on an older connection: the newer one holds the subdomain; the older
  one finishes its requests and is closed, and nothing reconnects because of it. On the only
  connection (no newer one was opened: a network race, say, where the server registered an
  attempt the agent gave up on) it is logged and treated like a lost connection: reconnect.
- Final, exit code 1, no retrying forever: the upgrade refused with 401 or 403 (the token is
  invalid, expired or revoked) or 409 (another agent, not this one, is connected on the
  subdomain); ``{"type": "closed", "reason": ...}`` (the server ends the tunnel, as it does when
  the token is revoked or expires); and the token's own expiry (read from its unverified
  claims), checked at start and timed while running.
- Final after a few tries, on the first connection only: nothing to connect to (connection
  refused, no such host, or the upgrade answered 400 or 404: no WebSocket API at that URL).
  ``FIRST_CONNECT_ATTEMPTS`` attempts with the usual backoff between them (a few seconds: a
  gateway still starting gets its chance), printing nothing until the one line that says what
  to check. Once a connection of this run has been registered, the same failures are waited out
  with backoff for as long as they last (a gateway restarting, a laptop asleep).
- ``stop()`` (Ctrl-C, SIGTERM) closes every connection with 1000 and returns 0.

Output: stdout gets ``Forwarding <url> -> http://<local-host>:<port>`` on every registration
(first connection and every reconnect) and one ``<METHOD> <path>?<query> <status> <size> <n>ms``
line per answered request (``POST /upload?dir=a 200 3.9 MB 410ms``: the body that was sent one
way, or ``1.0 MB → 1.0 MB`` when both carried one; a query parameter whose name says it is a
credential shows its value as ``…``: ``logged_target``); stderr gets ``tunnel: ...`` lines for
everything else. With a ``label`` (``tunnel start``), every line starts with ``[label]``.

Streaming: a request with ``stream`` (from the streaming edge) is answered as the local service
answers: a head once its headers are read, a ``chunk`` for each piece of the body as soon as it
is read (tunnel_cli.forward: ``stream_blocking``), then ``end`` (with an error when the body
broke off, the local service went quiet for the edge's idle timeout, or the deadline came). Its
log line is printed at the end. ``{"type": "cancel"}`` for a request being answered, streamed or
not, closes its local connection at once and sends nothing more for it (the caller left).

With the inspector on, each answered request is handed to its ring (``traffic``) as the local
service received it and as the caller was answered, bodies included (the start of a streamed
one, kept as it streams: ``BodyTap``); ``view`` gets the public URL once registered. "As the
caller was answered" includes the cookies: the forwarding function makes each ``Set-Cookie``
host-only on its way out, and the capture applies the same function to show what the browser
got (``Session.as_answered``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import random
import re
import secrets
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO, TypeVar
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from tunnel_shared import cookies
from tunnel_shared.limits import (
    HTTP_API_TIMEOUT_SECONDS,
    MAX_CONNECTION_SECONDS,
    REQUEST_DEADLINE_SECONDS,
    STREAM_IDLE_TIMEOUT_SECONDS,
    STREAM_PART_BYTES,
    STREAM_THROTTLED_BYTES_PER_SECOND,
    STREAM_UNTHROTTLED_BYTES,
)
from tunnel_shared.protocol import (
    Closed,
    PartsUpload,
    ProtocolError,
    Rejected,
    Reply,
    chunk_capacity,
    chunk_message,
    end_message,
    parse_cancel,
    parse_closed,
    parse_registered,
    parse_rejected,
    ping_message,
    ready_message,
    response_message,
)
from tunnel_shared.tokens import TokenError, read_claims
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from tunnel_cli.bodies import TransferError, upload_part
from tunnel_cli.deadline import Deadline
from tunnel_cli.exposure import is_loopback
from tunnel_cli.forward import (
    BodyTap,
    LocalRequest,
    LocalResponse,
    Pipe,
    StreamEnd,
    StreamHead,
    agent_busy,
    error_response,
    forward,
    in_daemon_thread,
    request_headers,
    start_stream,
)
from tunnel_cli.frames import fragments
from tunnel_cli.messages import (
    MessageError,
    parse_budget,
    parse_request,
    parse_server_message,
    reply_of,
    request_id_of,
    response_text,
)
from tunnel_cli.terminal import printable

if TYPE_CHECKING:
    from tunnel_cli.inspector.server import TunnelView
    from tunnel_cli.inspector.traffic import Exchange, Traffic

T = TypeVar("T")

READY = ready_message()
PING = ping_message()
# Statuses on the upgrade that retrying cannot fix.
TOKEN_REFUSED_STATUSES = (401, 403)
SUBDOMAIN_IN_USE_STATUS = 409
FINAL_STATUSES = (*TOKEN_REFUSED_STATUSES, SUBDOMAIN_IN_USE_STATUS)
# Statuses on the first upgrade that say no WebSocket API is at the URL (a wrong path or stage).
NOT_A_TUNNEL_STATUSES = (400, 404)
# Attempts at a first connection that finds nothing to connect to, before giving up; the waits
# between them are the reconnect backoff's first delays.
FIRST_CONNECT_ATTEMPTS = 3
URL_HINT = "is the URL right (the apis stack's `WebSocket URL` output, with its stage)?"
SUBDOMAIN_IN_USE = (
    "the subdomain is in use by another agent that is still connected; stop it or use another "
    "subdomain"
)
# What a secret is printed as: the token, the session secret, a credential in a query.
HIDDEN = "…"
# Query parameters whose values the request log line hides (``logged_target``): credentials by
# their usual names (OAuth's token, code and secret, API keys, passwords, signed URLs' parts).
CREDENTIAL_NAME = re.compile(
    r"token|secret|passw|pwd|signature|credential|session|auth|api.?key|jwt|^(key|sig|code)$",
    re.IGNORECASE,
)
# Well inside the 10-minute idle timeout (tyrchen/http-tunnel uses 300 s, wormhole 60 s).
DEFAULT_HEARTBEAT_SECONDS = 240.0
# Ten minutes before the 2-hour cap: room for a slow reconnect.
DEFAULT_ROTATE_SECONDS = MAX_CONNECTION_SECONDS - 10 * 60.0
# No byte from the local service for this long → 502. Under the request's deadline (limits:
# the forwarding function's own 504), with room for the 502 to reach the caller before it.
LOCAL_TIMEOUT_MARGIN_SECONDS = 2.0
DEFAULT_LOCAL_TIMEOUT_SECONDS = REQUEST_DEADLINE_SECONDS - LOCAL_TIMEOUT_MARGIN_SECONDS
# How long a new connection may take to be registered before the old one is closed anyway.
REGISTRATION_WAIT_SECONDS = 10.0
# On Ctrl-C, requests already being answered get this long to finish.
STOP_GRACE_SECONDS = 1.0
# The agent holds its local requests to the tunnel's cap on requests in flight, which each
# request message gives. A message without it comes from a forwarding function older than this
# agent, whose cap the agent cannot know (dev's is 20, prod's 50): then the bound is what the
# agent's open-files limit allows, each request holding up to two (its local connection and an
# S3 transfer) beside the files the agent keeps for itself, and at most the largest cap
# settings allow (tunnel_infra.settings: 1 to 1000).
AGENT_FILES = 16
FILES_PER_REQUEST = 2
MAX_TUNNEL_IN_FLIGHT = 1000
# Pieces of a streamed body read from the local service but not yet sent: the whole of what the
# agent holds of a stream (each at most one message's worth, protocol.chunk_capacity). Where the
# request gives a partsUpload, enough for a part (stream_slots), which goes through S3.
STREAM_SLOTS = 4
CANCELLED_BY_CALLER = "cancelled: the caller went away"


def stream_slots(capacity: int, parts: bool) -> int:
    """Pieces of ``capacity`` bytes the agent reads ahead of a stream: ``STREAM_SLOTS``, or
    with ``parts`` one part's worth and one more, so that what arrives while a part uploads
    is the next part (at most about two parts held: ``STREAM_PART_BYTES`` each)."""
    if not parts or capacity <= 0:
        return STREAM_SLOTS
    return max(STREAM_SLOTS, -(-STREAM_PART_BYTES // capacity) + 1)


def pace_seconds(sent: int, elapsed: float) -> float:
    """How long to wait before ``sent`` bytes of a streamed body have gone, ``elapsed`` seconds
    after its head: Lambda streams the first ``STREAM_UNTHROTTLED_BYTES`` at full speed, then
    ``STREAM_THROTTLED_BYTES_PER_SECOND``. Sending no faster than the edge delivers keeps what
    the forwarding container holds for the caller small (its ``STREAM_BUFFER_BYTES``) however
    fast the local service is: the stream's flow control, with no message back."""
    over = sent - STREAM_UNTHROTTLED_BYTES
    if over <= 0:
        return 0.0
    return max(0.0, over / STREAM_THROTTLED_BYTES_PER_SECOND - elapsed)


@dataclass
class _Flight:
    """A request being answered, as a ``cancel`` finds it: its deadline (cutting it closes the
    local connection) and, for a stream, the pipe its body comes through."""

    deadline: Deadline
    pipe: Pipe | None = None
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True
        self.deadline.cut()
        if self.pipe is not None:
            self.pipe.interrupt(_CANCEL)


_CANCEL = object()  # what a cancel puts before a stream's next piece


@dataclass(frozen=True)
class AgentSettings:
    url: str
    token: str
    port: int
    local_host: str = "127.0.0.1"
    host_header: str = "preserve"
    local_timeout: float = DEFAULT_LOCAL_TIMEOUT_SECONDS
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    rotate_seconds: float = DEFAULT_ROTATE_SECONDS
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    backoff_jitter: float = 0.2
    open_timeout: float = 10.0
    # Set by `tunnel start` (several tunnels): prefixes every line this agent prints.
    label: str = ""

    @property
    def local_url(self) -> str:
        host = f"[{self.local_host}]" if ":" in self.local_host else self.local_host
        return f"http://{host}:{self.port}"


class _Stopped(Exception):
    """``stop()`` was called while waiting."""


def connection_url(url: str, token: str, session: str) -> str:
    """``url`` with ``token=<token>&session=<session>`` added to its query (the authorizer reads
    them there)."""
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    added = f"token={quote(token, safe='')}&session={quote(session, safe='')}"
    return urlunsplit(parts._replace(query=f"{query}{added}"))


def token_expiry(token: str) -> int | None:
    """The token's expiry (Unix seconds) from its unverified claims; None if unreadable (the
    server is the judge of that)."""
    try:
        return read_claims(token).expires
    except TokenError:
        return None


def expired_message(expires: int) -> str:
    when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"the token expired at {when}; issue a new one with `tunnel token`"


def fallback_in_flight() -> int:
    """The bound on local requests when the server gives no cap (``AGENT_FILES``)."""
    try:
        import resource  # not on Windows

        files, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return MAX_TUNNEL_IN_FLIGHT
    if files == resource.RLIM_INFINITY:
        return MAX_TUNNEL_IN_FLIGHT
    return max(1, min(MAX_TUNNEL_IN_FLIGHT, (files - AGENT_FILES) // FILES_PER_REQUEST))


def backoff_delay(attempt: int, initial: float, maximum: float, jitter: float) -> float:
    """Seconds to wait before reconnect number ``attempt`` (0-based)."""
    base = min(maximum, initial * 2 ** min(attempt, 32))
    return base * random.uniform(1 - jitter, 1 + jitter)


class Agent:
    def __init__(
        self,
        settings: AgentSettings,
        out: TextIO | None = None,
        err: TextIO | None = None,
        traffic: Traffic | None = None,
        view: TunnelView | None = None,
    ) -> None:
        self.settings = settings
        self._out = out
        self._err = err
        # The request inspector's ring, and this tunnel's entry in its list (both or neither).
        self.traffic = traffic
        self.view = view
        # Proves a reconnect is this agent (module docstring); never printed.
        self._session_secret = secrets.token_urlsafe(32)
        self._expires = token_expiry(settings.token)
        self._stopping = asyncio.Event()
        self._exit_code = 0
        self._sessions: set[Session] = set()
        self._background: set[asyncio.Task[Any]] = set()
        # Local requests in flight, on every connection of this tunnel, and their bound when
        # the server gives none (``fallback_in_flight``).
        self.local_requests = 0
        self.fallback_in_flight = fallback_in_flight()

    def admit(self, cap: int) -> bool:
        """Count one more local request, unless ``cap`` are in flight already."""
        if self.local_requests >= cap:
            return False
        self.local_requests += 1
        return True

    def release(self) -> None:
        self.local_requests -= 1

    def stop(self) -> None:
        """Ask ``run`` to close its connections and return 0; safe from a signal handler."""
        self._stopping.set()

    def finish(self, reason: str) -> None:
        """End for good: print ``reason``, close every connection, ``run`` returns 1."""
        if not self._stopping.is_set():
            self.say_error(reason)
            self._exit_code = 1
        self._stopping.set()

    async def run(self) -> int:
        """Serve until stopped (0) or refused or ended for good (1)."""
        if self._expires is not None and self._expires <= time.time():
            self.say_error(expired_message(self._expires))
            return 1
        if self._expires is not None:
            self._spawn(self._expire(self._expires))
        attempt = 0
        retiring: Session | None = None
        # Set once a connection of this run has been registered: from then on, nothing is
        # final for lack of a server (module docstring).
        up = False
        hopeless_attempts = 0
        try:
            while not self._stopping.is_set():
                hopeless: str | None = None
                try:
                    ws = await self._until_stopped(self._open())
                except _Stopped:
                    break
                except InvalidStatus as exc:
                    status = exc.response.status_code
                    if status in FINAL_STATUSES:
                        self.finish(_refusal(status))
                        break
                    reason = f"the server refused the connection (HTTP {status})"
                    hopeless = _nothing_there(exc, self.settings.url)
                except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                    reason = f"cannot connect to {_public(self.settings.url)}: {_describe(exc)}"
                    hopeless = _nothing_there(exc, self.settings.url)
                else:
                    session = Session(self, ws)
                    self._sessions.add(session)
                    await session.start()
                    if retiring is not None:
                        self._spawn(self._retire(retiring, session))
                        retiring = None
                    outcome = await self._watch(session)
                    up = up or session.registered.is_set()
                    if outcome == "stop" or self._stopping.is_set():
                        break
                    if outcome == "rotate":
                        self.say_error("opening a new connection before API Gateway's 2-hour cap")
                        retiring, attempt = session, 0
                        continue
                    if session.registered.is_set():
                        attempt = 0
                    if outcome == "replaced":
                        # Its requests may finish; the reconnect does not wait for them.
                        self._spawn(self._close(session, HTTP_API_TIMEOUT_SECONDS))
                        reason = (
                            "the server gave the subdomain to another connection of this agent "
                            "(this one is the newest)"
                        )
                    else:
                        await self._close(session, 0)
                        reason = f"connection lost ({session.close_description()})"
                quietly = hopeless is not None and not up
                hopeless_attempts = hopeless_attempts + 1 if quietly else 0
                if hopeless is not None and hopeless_attempts >= FIRST_CONNECT_ATTEMPTS:
                    self.finish(hopeless)
                    break
                delay = backoff_delay(
                    attempt,
                    self.settings.backoff_initial,
                    self.settings.backoff_max,
                    self.settings.backoff_jitter,
                )
                attempt += 1
                if not quietly:  # a first connection's quick retries end in one line
                    self.say_error(f"{reason}; reconnecting in {delay:.1f} s")
                try:
                    await self._until_stopped(asyncio.sleep(delay))
                except _Stopped:
                    break
            return self._exit_code
        finally:
            await self._shutdown()

    # Output ---------------------------------------------------------------------------------

    def say(self, line: str) -> None:
        # flush: stdout is block-buffered when piped, and scripts read it line by line.
        print(self._safe(line), file=self._out or sys.stdout, flush=True)

    def say_error(self, line: str) -> None:
        print(f"tunnel: {self._safe(line)}", file=self._err or sys.stderr, flush=True)

    def _safe(self, line: str) -> str:
        # Lines carry paths, reasons and errors from the wire: no control character reaches
        # the terminal (``terminal.printable``), escaped last so nothing decodes one back.
        return printable(self._redact(self._labelled(line)))

    def _labelled(self, line: str) -> str:
        return f"[{self.settings.label}] {line}" if self.settings.label else line

    def _redact(self, line: str) -> str:
        # The last guard: no line the agent prints carries the token or the session secret,
        # whatever a library put in an exception's text.
        for secret in (self.settings.token, self._session_secret):
            if secret:
                line = line.replace(secret, HIDDEN)
        return line

    # Internals ------------------------------------------------------------------------------

    async def _open(self) -> ClientConnection:
        return await connect(
            connection_url(self.settings.url, self.settings.token, self._session_secret),
            # API Gateway does not negotiate permessage-deflate; frame sizes are then exact.
            compression=None,
            open_timeout=self.settings.open_timeout,
            close_timeout=2,
            # Requests are at most 128 KB; leave room for a gateway that sends a bit more.
            max_size=2**20,
        )

    async def _watch(self, session: Session) -> str:
        """Wait until the session closes ("closed"), must be replaced ("rotate"), the server
        says another connection of this agent took over ("replaced") or the agent is stopped
        ("stop")."""
        waits = {
            "closed": asyncio.ensure_future(asyncio.shield(session.reader)),
            "rotate": asyncio.ensure_future(asyncio.sleep(self.settings.rotate_seconds)),
            "replaced": asyncio.ensure_future(session.replaced.wait()),
            "stop": asyncio.ensure_future(self._stopping.wait()),
        }
        try:
            await asyncio.wait(waits.values(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits.values():
                task.cancel()
        for outcome in ("stop", "replaced", "closed", "rotate"):
            if waits[outcome].done() and not waits[outcome].cancelled():
                return outcome
        return "stop"  # cancelled from outside

    async def _until_stopped(self, awaitable: Awaitable[T]) -> T:
        task = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            result = task.result()
            if self._stopping.is_set() and isinstance(result, ClientConnection):
                await result.close()
                raise _Stopped
            return result
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise _Stopped

    async def _retire(self, old: Session, new: Session) -> None:
        """Close ``old`` once ``new`` holds the subdomain, its requests answered."""
        waits = {
            asyncio.ensure_future(new.registered.wait()),
            asyncio.ensure_future(old.replaced.wait()),
        }
        try:
            await asyncio.wait(
                waits, timeout=REGISTRATION_WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in waits:
                task.cancel()
        await self._close(old, HTTP_API_TIMEOUT_SECONDS)

    async def _close(self, session: Session, grace: float) -> None:
        await session.close(grace=grace)
        self._sessions.discard(session)

    async def _expire(self, expires: int) -> None:
        await asyncio.sleep(max(0.0, expires - time.time()))
        self.finish(expired_message(expires))

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _shutdown(self) -> None:
        for task in list(self._background):
            task.cancel()
        sessions = list(self._sessions)
        self._sessions.clear()
        await asyncio.gather(
            *(session.close(grace=STOP_GRACE_SECONDS) for session in sessions),
            return_exceptions=True,
        )


class Session:
    """One WebSocket connection and the requests it is answering."""

    def __init__(self, agent: Agent, ws: ClientConnection) -> None:
        self.agent = agent
        self.ws = ws
        self.registered = asyncio.Event()
        self.replaced = asyncio.Event()
        self.url: str | None = None
        self.subdomain: str | None = None  # as ``registered`` names it
        self.reader: asyncio.Task[None] = asyncio.ensure_future(self._read())
        self._heartbeat: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._requests: set[asyncio.Task[None]] = set()
        self._flights: dict[str, _Flight] = {}  # by requestId: what a cancel cuts

    async def start(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # the reader sees the close too
            await self.send(READY)
        self._heartbeat = asyncio.ensure_future(self._beat())

    async def send(self, text: str) -> None:
        """Send ``text`` as one message, in frames of at most 32 KB."""
        pieces = fragments(text)
        # websockets serialises fragmented sends itself; the lock also keeps close() from
        # cutting one in half (which would end the connection with 1011, not 1000).
        async with self._send_lock:
            await self.ws.send(pieces[0] if len(pieces) == 1 else pieces)

    async def close(self, grace: float) -> None:
        """Stop the heartbeat, give requests in flight up to ``grace`` seconds, close (1000)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        deadline = time.monotonic() + grace
        while self._requests and time.monotonic() < deadline:
            await asyncio.wait(set(self._requests), timeout=deadline - time.monotonic())
        for task in list(self._requests):
            task.cancel()
        locked = False
        with contextlib.suppress(TimeoutError):
            locked = await asyncio.wait_for(self._send_lock.acquire(), 1.0)
        try:
            with contextlib.suppress(Exception):
                await self.ws.close(1000)
        finally:
            if locked:
                self._send_lock.release()
        with contextlib.suppress(Exception):
            await self.reader

    def close_description(self) -> str:
        code, reason = self.ws.close_code, self.ws.close_reason
        if code is None or code == 1006:  # 1006 is never sent: the TCP connection just ended
            return "code 1006: no close frame"
        return f"code {code}: {reason}" if reason else f"code {code}"

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self._dispatch(raw)
        except ConnectionClosed:
            pass
        finally:
            if self._heartbeat is not None:
                self._heartbeat.cancel()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.agent.settings.heartbeat_seconds)
            try:
                await self.send(PING)
            except ConnectionClosed:
                return

    def _dispatch(self, raw: str | bytes) -> None:
        received = time.monotonic()  # a request's budget counts from here
        try:
            message = parse_server_message(raw)
        except MessageError as exc:
            self.agent.say_error(f"ignored a message from the server: {exc}")
            return
        kind = message["type"]
        if kind == "request":
            task = asyncio.ensure_future(self._answer(message, received))
            self._requests.add(task)
            task.add_done_callback(self._requests.discard)
        elif kind == "registered":
            try:
                registered = parse_registered(message)
            except ProtocolError as exc:
                self.agent.say_error(str(exc))
                return
            self.url, self.subdomain = registered.url, registered.subdomain
            self.registered.set()
            if self.agent.view is not None:
                self.agent.view.public_url = registered.url
            self.agent.say(f"Forwarding {registered.url} -> {self.agent.settings.local_url}")
        elif kind == "rejected":
            reason = _reason(message, parse_rejected)
            self.agent.say_error(f"the server rejected a message: {reason}")
        elif kind == "closed":
            self.agent.finish(f"the server closed the tunnel: {_reason(message, parse_closed)}")
        elif kind == "replaced":
            # Another connection of this agent holds the subdomain: ``_retire`` closes an older
            # connection, the run loop reconnects from the newest (module docstring).
            self.replaced.set()
        elif kind == "cancel":
            try:
                cancelled = parse_cancel(message)
            except ProtocolError as exc:
                self.agent.say_error(f"ignored a message from the server: {exc}")
                return
            flight = self._flights.get(cancelled.request_id)
            if flight is not None:  # else: answered already, nothing to do
                flight.cancel()
        else:
            self.agent.say_error(f"ignored a message of unknown type {kind[:40]!r}")

    async def _answer(self, message: dict[str, Any], received: float) -> None:
        """Answer one ``request`` (``received``: when it arrived, ``time.monotonic()``): at once
        when it cannot be forwarded (unreadable, over the tunnel's cap), else with what the local
        service answered before the request's deadline; nothing when the deadline came first."""
        arrived = time.time() - (time.monotonic() - received)
        request_id = request_id_of(message)
        if request_id is None:
            self.agent.say_error("ignored a request without a valid requestId")
            return
        settings = self.agent.settings
        tap = _tap() if self.agent.traffic is not None else None
        entry: str | None = None  # its inspector entry, kept from the start while in flight
        try:
            request = parse_request(message)
            budget = parse_budget(message)
        except MessageError as exc:
            request = LocalRequest("?", "?", "", [], [], b"")
            response: LocalResponse | None = error_response(
                502, "bad-request-message", "the tunnel could not read the request", str(exc)
            )
        else:
            deadline = Deadline(budget.seconds, start=received)
            cap = budget.in_flight_per_tunnel or self.agent.fallback_in_flight
            if not self.agent.admit(cap):
                response = agent_busy(cap)
            else:
                if tap is not None:
                    entry = self._traffic().begin(self._exchange(request, tap, arrived, 0.0))
                flight = self._flights[request_id] = _Flight(deadline)
                try:
                    if request.stream:
                        await self._stream(
                            request_id, request, reply_of(message), flight, tap, received, entry
                        )
                        return
                    response = await forward(
                        request,
                        settings.local_host,
                        settings.port,
                        settings.local_timeout,
                        settings.host_header,
                        tap,
                        deadline,
                    )
                finally:
                    self.agent.release()
                    if self._flights.get(request_id) is flight:
                        del self._flights[request_id]
                if flight.cancelled:
                    self._cut(request, deadline, tap, arrived, entry, CANCELLED_BY_CALLER)
                    return
            if response is None:
                self._cut(request, deadline, tap, arrived, entry)
                return
        await self._send_whole(
            request_id, request, reply_of(message), response, tap, received, entry
        )

    async def _pace(self, sent: int, since: float) -> None:
        """Wait until ``sent`` body bytes may go (``pace_seconds``)."""
        wait = pace_seconds(sent, time.monotonic() - since)
        if wait > 0:
            await asyncio.sleep(wait)

    async def _stream(
        self,
        request_id: str,
        request: LocalRequest,
        reply: Reply | None,
        flight: _Flight,
        tap: BodyTap | None,
        received: float,
        entry: str | None,
    ) -> None:
        """Answer a streamed request as the local service answers it (module docstring): each
        piece is sent before the next is read, at most ``STREAM_SLOTS`` read ahead."""
        arrived = time.time() - (time.monotonic() - received)
        settings = self.agent.settings
        deadline = flight.deadline
        capacity = chunk_capacity(request_id, reply)
        parts = request.parts_upload
        slots = stream_slots(capacity, parts is not None)
        pipe = flight.pipe = Pipe(asyncio.get_running_loop(), slots)
        start_stream(
            pipe,
            request,
            settings.local_host,
            settings.port,
            STREAM_IDLE_TIMEOUT_SECONDS,
            capacity,
            STREAM_IDLE_TIMEOUT_SECONDS,
            settings.host_header,
            tap,
            deadline,
        )
        head: StreamHead | None = None
        head_sent = 0.0
        seq = size = 0
        end: StreamEnd | None = None
        try:
            while True:
                try:
                    item = await asyncio.wait_for(pipe.get(), deadline.remaining())
                except TimeoutError:  # the deadline: the local connection goes
                    deadline.cut()
                    if head is None:  # nothing sent: the caller has the edge's own answer
                        self._cut(request, deadline, tap, arrived, entry)
                        return
                    item = StreamEnd(
                        f"cut at the deadline after {deadline.seconds:.1f} s",
                        f"cut at the deadline ({deadline.seconds:.1f} s)",
                    )
                pipe.sent()
                if item is _CANCEL or flight.cancelled:  # pieces read before it go unsent
                    self._cut(request, deadline, tap, arrived, entry, CANCELLED_BY_CALLER)
                    return
                if isinstance(item, LocalResponse):  # no head came: one whole answer
                    await self._send_whole(request_id, request, reply, item, tap, received, entry)
                    return
                if isinstance(item, StreamHead):
                    head, head_sent = item, time.monotonic()
                    text = response_message(
                        request_id, head.status, head.headers, b"", reply=reply, streamed=True
                    )
                elif isinstance(item, bytes):
                    if parts is not None:  # what came faster than it goes: one part
                        item = pipe.gather(item, STREAM_PART_BYTES)
                    if len(item) <= capacity:
                        text = chunk_message(request_id, seq, item, reply)
                    else:
                        assert parts is not None
                        try:
                            await self._upload_part(parts, seq, item, deadline)
                        except TransferError as error:
                            if flight.cancelled:
                                self._cut(
                                    request, deadline, tap, arrived, entry, CANCELLED_BY_CALLER
                                )
                                return
                            end = StreamEnd(
                                "the tunnel could not store part of the response", str(error)
                            )
                            await self.send(end_message(request_id, seq, end.error, reply))
                            break
                        text = chunk_message(request_id, seq, b"", reply, len(item))
                    seq, size = seq + 1, size + len(item)
                    await self._pace(size, head_sent)
                else:
                    assert isinstance(item, StreamEnd)
                    end = item
                    text = end_message(request_id, seq, end.error, reply)
                await self.send(text)
                if end is not None:
                    break
        except ConnectionClosed:
            self.agent.say_error(
                f"{request.method} {request.raw_path or '/'}: stream broken off, the connection "
                "closed"
            )
            return
        finally:
            pipe.abandon()  # the thread, if still reading, stops and closes the local connection
            if end is None or end.error is not None:
                deadline.cut()
        assert head is not None and end is not None
        elapsed = time.monotonic() - received
        target = logged_target(request.raw_path or "/", request.raw_query_string)
        sizes = body_sizes(request.size, size)
        if end.error is not None:
            self.agent.say_error(f"{request.method} {request.raw_path or '/'}: {end.detail}")
        broke = f" broken off: {end.error}" if end.error else ""
        self.agent.say(
            f"{request.method} {target} {head.status} {sizes} {round(elapsed * 1000)}ms"
            f" streamed{broke}"
        )
        if tap is not None:
            sent = LocalResponse(head.status, head.headers, b"", stored_bytes=size)
            exchange = self._exchange(request, tap, arrived, elapsed, sent)
            if end.error is not None:
                from tunnel_cli.inspector.traffic import CUT  # only when the inspector runs

                exchange = dataclasses.replace(exchange, state=CUT, cut=f"broken off: {end.error}")
            self._record(entry, exchange)

    async def _upload_part(
        self, parts: PartsUpload, seq: int, data: bytes, deadline: Deadline
    ) -> None:
        """Upload a stream's part in a thread of its own (``tunnel_cli.bodies.upload_part``);
        the request's deadline, or a cancel, shuts its connection."""
        timeout = max(1.0, deadline.remaining())
        await in_daemon_thread(lambda: upload_part(parts, seq, data, timeout, deadline))

    async def _send_whole(
        self,
        request_id: str,
        request: LocalRequest,
        reply: Reply | None,
        response: LocalResponse,
        tap: BodyTap | None,
        received: float,
        entry: str | None,
    ) -> None:
        """A streamed request answered whole (the local service failed before its headers)."""
        text, sent = response_text(request_id, response, reply)
        path = request.raw_path or "/"
        if sent.error:
            self.agent.say_error(f"{request.method} {path}: {sent.error}")
        try:
            await self.send(text)
        except ConnectionClosed:
            self.agent.say_error(f"{request.method} {path}: not answered, the connection closed")
            return
        elapsed = time.monotonic() - received
        target = logged_target(path, request.raw_query_string)
        sizes = body_sizes(request.size, sent.size)
        self.agent.say(f"{request.method} {target} {sent.status} {sizes} {round(elapsed * 1000)}ms")
        if tap is not None:
            arrived = time.time() - elapsed
            self._record(entry, self._exchange(request, tap, arrived, elapsed, sent))

    def _record(self, entry: str | None, exchange: Exchange) -> None:
        if entry is None:
            self._traffic().add(exchange)
        else:
            self._traffic().finish(entry, exchange)

    def _cut(
        self,
        request: LocalRequest,
        deadline: Deadline,
        tap: BodyTap | None,
        arrived: float,
        entry: str | None,
        why: str | None = None,
    ) -> None:
        """The request's deadline came first (or, ``why``, its caller left): its local
        connection is closed, nothing is sent (the public caller has the forwarding function's
        504, or is gone); one line, and the inspector says why."""
        target = logged_target(request.raw_path or "/", request.raw_query_string)
        if why is None:
            self.agent.say(
                f"{request.method} {target} 504 cut at the deadline ({deadline.seconds:.1f} s)"
            )
        else:
            self.agent.say(f"{request.method} {target} {why}")
        if tap is None or entry is None:
            return
        from tunnel_cli.inspector.traffic import CUT  # only when the inspector runs

        elapsed = time.monotonic() - (deadline.at - deadline.seconds)
        exchange = self._exchange(request, tap, arrived, elapsed)
        reason = why or f"cut at the deadline after {deadline.seconds:.1f} s"
        self._traffic().finish(entry, dataclasses.replace(exchange, state=CUT, cut=reason))

    def _traffic(self) -> Traffic:
        assert self.agent.traffic is not None
        return self.agent.traffic

    def _exchange(
        self,
        request: LocalRequest,
        tap: BodyTap,
        arrived: float,
        elapsed: float,
        sent: LocalResponse | None = None,
    ) -> Exchange:
        """The exchange for the inspector: the request as the local service got it, the answer
        (``sent``; none yet or ever: status 0) as the public caller got it."""
        from tunnel_cli.inspector.traffic import Exchange  # only when the inspector runs

        settings = self.agent.settings
        address = settings.local_url.removeprefix("http://")
        error = sent and next((v for n, v in sent.headers if n.lower() == "x-tunnel-error"), None)
        return Exchange(
            tunnel_name=self.agent.view.name if self.agent.view else settings.label,
            started=arrived,
            duration=elapsed,
            method=request.method,
            target=request.target,
            request_headers=request_headers(request, address, settings.host_header),
            request_body=bytes(tap.request) if request.body_url else request.body,
            request_size=request.size,
            status=sent.status if sent else 0,
            response_headers=self.as_answered(request, sent.headers) if sent else [],
            response_body=(
                bytes(tap.response if sent.stored_bytes is not None else sent.body) if sent else b""
            ),
            response_size=sent.size if sent else 0,
            error=error if sent and sent.error else None,
        )

    def as_answered(
        self, request: LocalRequest, headers: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """``headers`` with each ``Set-Cookie`` as the caller got it. The rewrite is the
        forwarding function's (``_http_response`` in functions/forwarding/handler.py), not the
        agent's: the same function, ``tunnel_shared.cookies.scoped``, is applied here, with the
        host the forwarding function named in ``X-Forwarded-Host`` and, where tunnels are paths
        of one host (the public URL's path is ``/<subdomain>``), that path."""
        host = next((v for n, v in request.headers if n.lower() == "x-forwarded-host"), None)
        if host is None:  # not from the forwarding function: its Host, as that reads it
            host = next((v for n, v in request.headers if n.lower() == "host"), "")
            host = host.split(":")[0].lower()
        path = urlsplit(self.url or "").path
        prefix = path if self.subdomain and path == f"/{self.subdomain}" else ""
        return [
            (name, cookies.scoped(value, host, prefix) if name.lower() == "set-cookie" else value)
            for name, value in headers
        ]


def _tap() -> BodyTap:
    from tunnel_cli.inspector.traffic import CAPTURE_BODY_BYTES  # only when the inspector runs

    return BodyTap(CAPTURE_BODY_BYTES)


def logged_target(path: str, query: str) -> str:
    """``path?query`` for the request log line, each credential's value (``CREDENTIAL_NAME``)
    shown as ``HIDDEN``; the rest as sent. Terminals get shared and scrolled back; the inspector,
    a tool on loopback that replays requests, shows them whole."""
    if not query:
        return path
    fields = []
    for field in query.split("&"):
        name, equals, value = field.partition("=")
        if value and CREDENTIAL_NAME.search(unquote_plus(name)):
            field = f"{name}{equals}{HIDDEN}"
        fields.append(field)
    return f"{path}?{'&'.join(fields)}"


def body_sizes(sent: int, received: int) -> str:
    """The request log's size column: the body each way that had one."""
    if sent and received:
        return f"{human_size(sent)} → {human_size(received)}"
    return human_size(sent or received)


def human_size(size: int) -> str:
    """``512 B``, ``64.0 kB``, ``3.9 MB``: decimal units, as HTTP tools print them."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


def _refusal(status: int) -> str:
    if status == SUBDOMAIN_IN_USE_STATUS:
        return SUBDOMAIN_IN_USE
    return (
        f"the server refused the connection (HTTP {status}): the token is invalid, expired or "
        "revoked. Issue a new token with `tunnel token --subdomain NAME`."
    )


def _reason(message: dict[str, Any], parse: Callable[[dict[str, Any]], Closed | Rejected]) -> str:
    """The reason a ``closed`` or ``rejected`` message gives (``parse``: the protocol's parser),
    on one line; "none given" when it gives no text."""
    try:
        reason = parse(message).reason
    except ProtocolError:
        reason = ""
    return " ".join(reason.split()) or "none given"


def _public(url: str) -> str:
    """``url`` without its query: never print the token."""
    try:
        return urlunsplit(urlsplit(url)._replace(query="", fragment=""))
    except ValueError:
        return "the WebSocket URL"


def _nothing_there(exc: BaseException, url: str) -> str | None:
    """Why ``url`` has nothing to connect to, as the line to end with, if ``exc`` says so:
    connection refused, no such host, or the upgrade answered 400 or 404; None otherwise."""
    public = _public(url)
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status not in NOT_A_TUNNEL_STATUSES:
            return None
        return (
            f"cannot open a tunnel at {public}: it answered HTTP {status} to the WebSocket "
            f"upgrade; {URL_HINT}"
        )
    host = urlsplit(url).hostname or ""
    if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_NONAME:
        return f"cannot reach {public}: no such host {host!r}; {URL_HINT}"
    if isinstance(exc, OSError) and _refused(exc):
        hint = (
            "is the local gateway running (make tunnel-local)?" if is_loopback(host) else URL_HINT
        )
        return f"cannot reach {public}: connection refused; {hint}"
    return None


def _refused(exc: OSError) -> bool:
    if exc.errno == errno.ECONNREFUSED:
        return True
    # A host with several addresses (localhost: ::1 and 127.0.0.1) fails with one OSError that
    # lists each attempt's error: refused if one was refused and the others found no route.
    codes = [int(code) for code in re.findall(r"\[Errno (\d+)\]", str(exc))]
    unroutable = {errno.ECONNREFUSED, errno.EADDRNOTAVAIL, errno.ENETUNREACH, errno.EHOSTUNREACH}
    return errno.ECONNREFUSED in codes and set(codes) <= unroutable


# A URL's query (where the token is), wherever a library's message quotes the URL.
_URL_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#]*)[?#]\S*", re.IGNORECASE)


def _describe(exc: BaseException) -> str:
    """One line about a failed connection attempt, never with the URL's query (the token)."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, InvalidURI):
        return f"not a usable WebSocket URL: {exc.msg}"  # str(exc) quotes the whole URL
    text = str(exc) or type(exc).__name__
    return _URL_QUERY.sub(r"\1", text.splitlines()[0])[:200]
