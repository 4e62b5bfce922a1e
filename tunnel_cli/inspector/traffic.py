"""The captured traffic: a thread-safe ring of the last requests the agent answered, and of those
it is answering: a request is kept from the moment it arrives (``begin``: in flight, its
duration the time so far), and its entry is completed in place when it is answered or cut at its
deadline (``finish``).

Bounded twice: at most ``max_requests`` entries and at most ``max_bytes`` of captured bodies and
headers (the oldest go first; the newest entry is always kept, even alone over the byte bound).
Each body is kept up to ``CAPTURE_BODY_BYTES``; the full size is kept beside it, so the page can
say "captured 1 MiB of 4.2 MB" and a partly captured request is never replayed as if whole.

The agent adds from its event loop, the server reads from its handler threads: one lock guards
the ring, and a condition on it wakes the page's live updates (``wait``) on every change.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

# The part of each body that is kept (ngrok keeps only "the initial portion" of a long one).
CAPTURE_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_REQUESTS = 500
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# What one entry costs besides its bodies and headers, roughly (the objects, the id).
ENTRY_OVERHEAD_BYTES = 512
# An entry's state: answered, being answered, or cut at its deadline (no response: the public
# caller got the forwarding function's 504).
ANSWERED = "answered"
IN_FLIGHT = "in flight"
CUT = "cut"


@dataclass(frozen=True)
class Exchange:
    """One request, as the agent hands it over: answered, in flight (no response yet: status 0),
    or cut at its deadline (no response ever; ``cut`` says why)."""

    tunnel_name: str
    started: float  # time.time() when the request arrived
    duration: float  # seconds
    method: str
    target: str  # path?query as sent to the local service
    request_headers: list[tuple[str, str]]  # as sent to the local service, in order
    request_body: bytes  # what was captured: the whole body, or its first part
    request_size: int  # the body's full size in bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes
    response_size: int
    error: str | None = None  # set when the agent answered itself (x-tunnel-error)
    replay_of: str | None = None
    state: str = ANSWERED
    cut: str | None = None  # why it was cut: "cut at the deadline after 27.0 s"


@dataclass(frozen=True)
class Captured:
    """An exchange in the ring: its id, and its bodies as kept (at most CAPTURE_BODY_BYTES)."""

    id: str
    exchange: Exchange
    cost: int  # bytes counted against max_bytes

    @property
    def duration(self) -> float:
        """Seconds: the whole exchange's, or so far while it is in flight."""
        if self.exchange.state == IN_FLIGHT:
            return max(0.0, time.time() - self.exchange.started)
        return self.exchange.duration

    @property
    def request_truncated(self) -> bool:
        return len(self.exchange.request_body) < self.exchange.request_size

    @property
    def response_truncated(self) -> bool:
        return len(self.exchange.response_body) < self.exchange.response_size


def _cost(exchange: Exchange) -> int:
    headers = sum(
        len(name) + len(value)
        for name, value in (*exchange.request_headers, *exchange.response_headers)
    )
    return (
        len(exchange.request_body)
        + len(exchange.response_body)
        + headers
        + len(exchange.target)
        + ENTRY_OVERHEAD_BYTES
    )


def status_matches(status: int, wanted: str) -> bool:
    """``wanted`` is a status (``404``) or a class (``4xx``)."""
    wanted = wanted.strip().lower()
    if len(wanted) == 3 and wanted.endswith("xx") and wanted[0].isdigit():
        return status // 100 == int(wanted[0])
    return str(status) == wanted


class Traffic:
    """The ring (module docstring)."""

    def __init__(
        self, max_requests: int = DEFAULT_MAX_REQUESTS, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_requests < 1 or max_bytes < 1:
            raise ValueError("max_requests and max_bytes must be positive")
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._entries: OrderedDict[str, Captured] = OrderedDict()
        self._bytes = 0
        self._version = 0

    def add(self, exchange: Exchange) -> str:
        """Keep ``exchange`` (its bodies cut to CAPTURE_BODY_BYTES); return its id."""
        return self._keep(f"req_{secrets.token_hex(8)}", exchange)

    def begin(self, exchange: Exchange) -> str:
        """Keep a request that has just arrived (state ``IN_FLIGHT``); return its id."""
        return self.add(dataclasses.replace(exchange, state=IN_FLIGHT))

    def finish(self, id: str, exchange: Exchange) -> str:  # noqa: A002 (the interface's name)
        """Complete ``id``'s entry with ``exchange`` (answered or cut), where it is in the ring;
        added anew if it was evicted meanwhile. Its id."""
        return self._keep(id, exchange)

    def _keep(self, id: str, exchange: Exchange) -> str:  # noqa: A002
        kept = dataclasses.replace(
            exchange,
            request_body=bytes(exchange.request_body[:CAPTURE_BODY_BYTES]),
            response_body=bytes(exchange.response_body[:CAPTURE_BODY_BYTES]),
            request_headers=list(exchange.request_headers),
            response_headers=list(exchange.response_headers),
        )
        captured = Captured(id, kept, _cost(kept))
        with self._changed:
            replaced = self._entries.get(id)
            if replaced is not None:
                self._bytes -= replaced.cost
            self._entries[captured.id] = captured  # an entry kept before keeps its place
            self._bytes += captured.cost
            while len(self._entries) > 1 and (
                len(self._entries) > self.max_requests or self._bytes > self.max_bytes
            ):
                _, oldest = self._entries.popitem(last=False)
                self._bytes -= oldest.cost
            self._version += 1
            self._changed.notify_all()
        return captured.id

    def get(self, id: str) -> Captured | None:  # noqa: A002 (the interface's name)
        with self._lock:
            return self._entries.get(id)

    def newest(
        self,
        limit: int | None = None,
        *,
        tunnel_name: str | None = None,
        path: str | None = None,
        method: str | None = None,
        status: str | int | None = None,
    ) -> list[Captured]:
        """The entries, newest first, that pass every filter given: ``path`` a substring of
        the target, ``method`` exact (any case), ``status`` a code or a class (``5xx``)."""
        with self._lock:
            entries = list(reversed(self._entries.values()))
        chosen = []
        for captured in entries:
            exchange = captured.exchange
            if tunnel_name is not None and exchange.tunnel_name != tunnel_name:
                continue
            if path and path not in exchange.target:
                continue
            if method and exchange.method.upper() != method.upper():
                continue
            if (
                status is not None
                and str(status)
                and (exchange.state != ANSWERED or not status_matches(exchange.status, str(status)))
            ):
                continue
            chosen.append(captured)
            if limit is not None and len(chosen) >= limit:
                break
        return chosen

    def clear(self) -> None:
        with self._changed:
            self._entries.clear()
            self._bytes = 0
            self._version += 1
            self._changed.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def bytes(self) -> int:
        """What the entries cost against ``max_bytes``."""
        with self._lock:
            return self._bytes

    @property
    def version(self) -> int:
        """Bumped on every change (add, eviction, clear)."""
        with self._lock:
            return self._version

    def wait(self, seen: int, timeout: float) -> int:
        """Block until the version is past ``seen`` or ``timeout`` passes; the version then."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != seen, timeout)
            return self._version
