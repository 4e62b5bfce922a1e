"""A local request's deadline: no local request outlives its public request.

The forwarding function waits for the agent's answer only so long (``deadlineMs`` in the request
message: its own deadline less the time it already spent; tunnel_shared.protocol), then answers
the public caller 504 itself. The budget is relative because the agent's clock is not Lambda's:
the agent counts it from the moment the message arrived. A message without one (from an older
forwarding function) gets ``limits.REQUEST_DEADLINE_SECONDS``, the deadline forwarding derives
(tunnel_cli.messages.parse_budget).

At the deadline the local request is **cut**: every connection it has open (to the local
service, and to S3 for a large body) is shut down (``shutdown(SHUT_RDWR)``: the local service
sees its connection closed, and a read blocked on it in the request's thread returns at once,
in the middle of a chunked or endless response too), and nothing more is answered for it (the
public side already has its 504). The thread itself closes the sockets it opened (after
``forget``): closing a descriptor another thread is blocked on could let a new connection reuse
its number under it, so ``cut`` only shuts them down.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time


class DeadlinePassed(OSError):
    """A connection was to be opened after the cut."""


class Deadline:
    """``seconds`` from ``start`` (``time.monotonic()``; default now). Thread-safe."""

    def __init__(self, seconds: float, start: float | None = None) -> None:
        self.seconds = max(0.0, seconds)
        self.at = (time.monotonic() if start is None else start) + self.seconds
        self._lock = threading.Lock()
        self._sockets: dict[int, socket.socket] = {}  # by id() of their connection
        self._cut = False

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    @property
    def is_cut(self) -> bool:
        with self._lock:
            return self._cut

    def connect(self, connection: http.client.HTTPConnection) -> None:
        """Open ``connection`` (waiting no longer than the time left) and watch its socket until
        ``forget``; ``DeadlinePassed`` once cut."""
        timeout = connection.timeout
        if self.is_cut:
            raise DeadlinePassed("the request's deadline passed")
        if isinstance(timeout, int | float):
            connection.timeout = max(0.001, min(timeout, self.remaining()))
        try:
            connection.connect()
        finally:
            connection.timeout = timeout
        sock = connection.sock
        assert sock is not None
        if isinstance(timeout, int | float):
            sock.settimeout(timeout)
        with self._lock:
            if not self._cut:
                self._sockets[id(connection)] = sock
                return
        _shut(sock)
        raise DeadlinePassed("the request's deadline passed")

    def forget(self, connection: http.client.HTTPConnection) -> None:
        """Stop watching ``connection`` (before closing it)."""
        with self._lock:
            self._sockets.pop(id(connection), None)

    def cut(self) -> None:
        """Shut down every watched connection; any connection opened later is refused."""
        with self._lock:
            self._cut = True
            sockets = list(self._sockets.values())
            # Under the lock: a socket forgotten (and then closed) by its thread is never
            # touched here.
            for sock in sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        # The plain socket's shutdown, also for TLS: the SSL object stays the reading thread's.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:  # already closed by the peer, or never connected
        pass
