"""A function worker's log lines, written to CloudWatch Logs as Lambda writes them.

Lambda sends what a function prints, and its own ``START``/``END``/``REPORT`` lines, to the
function's log group, one log stream per execution environment named
``YYYY/MM/DD/[$LATEST]<environment id>`` ("How CloudWatch structures logs", AWS Lambda operator
guide, https://docs.aws.amazon.com/lambda/latest/operatorguide/log-structure.html: "Each instance
of a Lambda function has a dedicated log stream ... A single execution environment writes to the
same log stream during its lifetime"; the bracketed version and a 32-hex id, as awslambdaric
reports it in ``context.log_stream_name``). A worker process is the local execution environment:
it gets one stream (``AWS_LAMBDA_LOG_STREAM_NAME``, chosen by the gateway when it starts it) in
the group the functions stack created (``AWS_LAMBDA_LOG_GROUP_NAME``); a group that does not
exist is not created (the stack owns the group, its retention and its key).

The gateway reads each worker's stderr (what the handler prints, and the platform's lines,
marked ``PLATFORM_MARK``), as Lambda's platform reads a runtime's output from outside it: a
line printed just before the process dies is still kept. Lines are copied to the gateway's own
stderr (but the platform's) and queued, and a background thread writes them with PutLogEvents in
batches (``batches``: chronological, within the batch limits of tunnel_shared.limits), so an
invocation never waits for CloudWatch Logs. If the emulator refuses or cannot be reached, the
lines are dropped and one line on the gateway's stderr says so: a request never fails for it.
"""

from __future__ import annotations

import os
import select
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Starts a line of Lambda's own (START, END, REPORT) on a worker's stderr: the log stream gets
# it, the gateway's stderr does not. A record separator, which no handler's line starts with.
PLATFORM_MARK = "\x1e"
# How long a worker's last lines may take to be written once its output ends.
CLOSE_SECONDS = 2.0
# How long a printed line waits for the lines printed after it before they go in one batch.
FLUSH_SECONDS = 0.2
# Lines held while CloudWatch Logs is slow; past this the oldest are dropped (and said so once).
MAX_PENDING_EVENTS = 100_000


@dataclass(frozen=True)
class LogLimits:
    """PutLogEvents' limits (tunnel_shared.limits), handed to the worker by the gateway."""

    batch_bytes: int
    batch_events: int
    event_overhead_bytes: int
    event_bytes: int


def stream_name(now: datetime | None = None, environment_id: str | None = None) -> str:
    """Lambda's name for an execution environment's log stream: ``2026/12/04/[$LATEST]<32 hex>``."""
    day = (now or datetime.now(UTC)).strftime("%Y/%m/%d")
    return f"{day}/[$LATEST]{environment_id or uuid.uuid4().hex}"


def batches(events: list[tuple[int, str]], limits: LogLimits) -> Iterator[list[dict[str, Any]]]:
    """``(timestamp ms, message)`` pairs as PutLogEvents batches: in chronological order (stable,
    so lines printed in one millisecond keep their order), each message cut to the largest
    event, each batch within the byte and event counts."""
    batch: list[dict[str, Any]] = []
    size = 0
    most = limits.event_bytes - limits.event_overhead_bytes
    for timestamp, message in sorted(events, key=lambda event: event[0]):
        data = message.encode()
        if len(data) > most:
            message = data[:most].decode(errors="ignore")
            data = message.encode()
        cost = len(data) + limits.event_overhead_bytes
        if batch and (len(batch) >= limits.batch_events or size + cost > limits.batch_bytes):
            yield batch
            batch, size = [], 0
        batch.append({"timestamp": timestamp, "message": message})
        size += cost
    if batch:
        yield batch


class LogShipper:
    """Queues lines (``put``, never blocking) and writes them to one log stream from a thread."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        group: str,
        stream: str,
        limits: LogLimits,
        note: Callable[[str], None],
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._client_factory = client_factory
        self.group = group
        self.stream = stream
        self._limits = limits
        self._note = note
        self._flush_seconds = flush_seconds
        self._pending: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._client: Any = None
        self._stream_created = False
        self._gave_up = False  # the group does not exist: nothing more is sent
        self._told: set[str] = set()  # what has been said on stderr, once each
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self.shipped = 0  # events CloudWatch Logs accepted (for tests and the last word)

    def start(self) -> None:
        self._thread.start()

    def put(self, message: str, timestamp_ms: int | None = None) -> None:
        if not message or self._gave_up:
            return  # CloudWatch Logs refuses an empty message
        at = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        with self._lock:
            if len(self._pending) >= MAX_PENDING_EVENTS:
                del self._pending[0]
                self._tell("dropped", "CloudWatch Logs is slower than its lines: dropped some")
            self._pending.append((at, message))
        self._wake.set()

    def close(self, timeout: float) -> None:
        """Write what is queued (for at most ``timeout`` seconds) and stop."""
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if not self._closing:
                time.sleep(self._flush_seconds)  # gather the lines printed with it
            self._wake.clear()
            with self._lock:
                events, self._pending = self._pending, []
            if events and not self._gave_up:
                self._ship(events)
            if self._closing and not self._pending:
                return

    def _ship(self, events: list[tuple[int, str]]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if self._client is None:
                self._client = self._client_factory()
            if not self._stream_created:
                self._create_stream()
            for batch in batches(events, self._limits):
                self._client.put_log_events(
                    logGroupName=self.group, logStreamName=self.stream, logEvents=batch
                )
                self.shipped += len(batch)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "") or "error"
            if code == "ResourceNotFoundException":
                self._gave_up = True
                self._tell(code, f"log group {self.group} does not exist: its lines are not kept")
            else:
                self._tell(code, f"CloudWatch Logs answered {code}: some lines are not kept")
        except (BotoCoreError, OSError) as error:
            self._tell(
                type(error).__name__,
                f"cannot reach CloudWatch Logs ({error}): some lines are not kept",
            )

    def _create_stream(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise
        self._stream_created = True

    def _tell(self, kind: str, what: str) -> None:
        if kind not in self._told:
            self._told.add(kind)
            self._note(what)


class OutputReader:
    """Reads a worker's output from ``read_fd`` until it ends (a thread of its own), copies each
    line to ``copy_fd`` (the gateway's stderr, as before; the platform's lines not) and puts it
    to ``shipper``, which it then closes (its last lines written, for at most CLOSE_SECONDS).

    ``drain`` takes in at once what the worker has written so far: the gateway calls it before
    it acts on the worker's reply, so that what an invocation printed (a traceback, a last line
    before a crash) is on its stderr before the gateway's own line about that invocation."""

    def __init__(self, read_fd: int, copy_fd: int, shipper: LogShipper) -> None:
        self._fd = read_fd
        self._copy_fd = copy_fd
        self._shipper = shipper
        self._rest = b""
        self._ended = False
        self._lock = threading.Lock()
        self._mark = PLATFORM_MARK.encode()
        self._thread = threading.Thread(target=self._run, name="log-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def drain(self) -> None:
        with self._lock:
            while not self._ended and select.select([self._fd], [], [], 0)[0]:
                self._read_once()

    def _run(self) -> None:
        while not self._ended:
            try:
                select.select([self._fd], [], [])
            except (OSError, ValueError):
                break
            with self._lock:
                if not self._ended and select.select([self._fd], [], [], 0)[0]:
                    self._read_once()
        # Closed here, by the one thread that waits on it (a pipe at its end stays readable).
        try:
            os.close(self._fd)
        except OSError:
            pass
        self._shipper.close(CLOSE_SECONDS)

    def _read_once(self) -> None:
        """One read (the caller holds the lock and knows it will not block)."""
        try:
            data = os.read(self._fd, 65536)
        except OSError:
            data = b""
        if not data:
            self._end()
            return
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        now = int(time.time() * 1000)
        shown = b"".join(line + b"\n" for line in lines if not line.startswith(self._mark))
        self._write(shown)
        for line in lines:
            self._shipper.put(
                line.removeprefix(self._mark).decode(errors="replace").rstrip("\r"), now
            )

    def _end(self) -> None:
        self._ended = True
        if self._rest:
            self._write(self._rest + b"\n")
            self._shipper.put(self._rest.decode(errors="replace"))
            self._rest = b""

    def _write(self, data: bytes) -> None:
        if not data:
            return
        try:
            os.write(self._copy_fd, data)
        except OSError:
            pass  # the gateway's stderr is gone; CloudWatch Logs still gets the lines
