"""The deployed functions, each in a process of its own: their deployed code and settings, each
invocation with Lambda's limits.

A function runs the deployment package it was deployed with, never the project's working tree:
``local_gateway.function_code`` downloads it from GetFunction's ``Code.Location``, checks it
against ``CodeSha256`` and unpacks it; that folder is the worker's ``LAMBDA_TASK_ROOT``. Its
deployed ``Handler`` (``handler.handler``) runs in a worker process
(``local_gateway.function_worker``) started with the gateway and ended with it; the worker
imports it once, as a warm Lambda keeps its module. While serving, each function's
configuration is read every second (``check_code``, called by the gateway's follower,
follow.py): new code (``UpdateFunctionCode``, as ``make sync`` calls it, or a launch) gets a new
worker, new invocations go to it once it is ready, and the old worker stops once it has
answered the invocations it was running; one line says so (``forwarding: now running code
<sha256 hex, 12 digits>``). Code that cannot be fetched leaves the old code running, and says
why. New settings (environment, handler, timeout, memory: ``reconfigure``, once the follower
has read the new deployment) get a new worker the same way.

The worker's ``os.environ`` is what Lambda would give the function (``function_environment``):
its deployed variables, the runtime's reserved ones, the gateway's credentials and endpoint, and
what Python needs to run; nothing of another function's, so a handler that reads a variable its
function was not deployed with fails here as on AWS. The gateway's local overrides (its
@connections endpoint and public URLs) replace deployed values only. Local-only variables reach
every function when named, comma-separated, in ``LOCAL_GATEWAY_PASS_ENV`` (the tests' records
folder), unless the function was deployed with one of that name. Events and results cross as
JSON, as they do in Lambda, so a handler that returns something JSON cannot carry fails here
too; so do an event and a result over Lambda's payload limits (aws_fidelity.rules:
check_invocation_request, check_invocation_response).

Differences from Lambda, by construction: one worker per function runs its invocations
concurrently, on threads, in one module (Lambda runs one at a time per environment and adds
environments); a handler that outlives its timeout is abandoned, not killed; a worker that
crashes fails the invocations it was running and is started again by the next one.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

from tunnel_shared import names
from tunnel_shared.limits import (
    LAMBDA_REQUEST_PAYLOAD_BYTES,
    LOG_EVENT_MAX_BYTES,
    PUT_LOG_EVENTS_BATCH_BYTES,
    PUT_LOG_EVENTS_EVENT_OVERHEAD_BYTES,
    PUT_LOG_EVENTS_MAX_EVENTS,
    STREAM_IDLE_TIMEOUT_SECONDS,
    STREAM_MAX_SECONDS,
    STREAM_THROTTLED_BYTES_PER_SECOND,
    STREAM_UNTHROTTLED_BYTES,
)

from aws_fidelity import rules
from local_gateway import access_log, iam, lambda_logs
from local_gateway.deployment import DeployedFunction, Deployment, function_of
from local_gateway.function_code import Code, CodeCache, CodeUnavailable, sha_hex
from local_gateway.function_worker import READY_ID, spec_of

# Names the gateway's own environment variables that every function also gets (comma-separated).
PASS_ENV_VARIABLE = "LOCAL_GATEWAY_PASS_ENV"
# A worker imports boto3 and its handler; more than this and something hangs (Lambda's own init
# limit is 10 s, but several workers start at once on a laptop).
START_SECONDS = 30.0
# How long a stopping worker gets after its stdin closes, before it is killed.
STOP_SECONDS = 5.0
# How often each function's CodeSha256 is read, to follow UpdateFunctionCode.
CODE_POLL_SECONDS = 1.0
# Lambda hands a function its role's credentials as variables; the gateway passes its own, and
# its endpoint (the emulator), so that the functions reach what the gateway reaches.
_GATEWAY_AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_ENDPOINT_PREFIX = "AWS_ENDPOINT_URL"  # and AWS_ENDPOINT_URL_<SERVICE>
# Lambda's reserved variables naming where the runtime's lines go: the group (the functions
# stack's, /aws/lambda/<name>) and the execution environment's stream (local_gateway.lambda_logs).
LOG_GROUP_VARIABLE = "AWS_LAMBDA_LOG_GROUP_NAME"
LOG_STREAM_VARIABLE = "AWS_LAMBDA_LOG_STREAM_NAME"
LOG_LIMITS = lambda_logs.LogLimits(
    batch_bytes=PUT_LOG_EVENTS_BATCH_BYTES,
    batch_events=PUT_LOG_EVENTS_MAX_EVENTS,
    event_overhead_bytes=PUT_LOG_EVENTS_EVENT_OVERHEAD_BYTES,
    event_bytes=LOG_EVENT_MAX_BYTES,
)
# What the worker's Python needs to start (Lambda sets PATH and LD_LIBRARY_PATH too).
_TO_RUN = ("PATH", "PYTHONPATH", "LD_LIBRARY_PATH")


def _logs_client() -> Any:
    """CloudWatch Logs, as the gateway reaches AWS (the emulator): a worker's lines are written
    with it, quickly given up on (lambda_logs.LogShipper drops what cannot be written)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=5)
    return boto3.session.Session().client("logs", config=config)


class Status(Enum):
    OK = "ok"
    RAISED = "raised"  # the handler raised
    ERROR = "error"  # not invocable, timed out in Lambda, or an unusable result
    TIMEOUT = "timeout"  # the integration gave up first
    TOO_LARGE = "too large"  # the event exceeds Lambda's payload limit: never invoked
    RESULT_TOO_LARGE = "result too large"  # the result exceeds it: an invocation error


@dataclass(frozen=True)
class Outcome:
    status: Status
    value: Any = None
    payload: str = ""  # the result as Lambda returns it: JSON text
    reason: str = ""  # for the gateway's log, never for a client
    error_message: str = ""  # what a handler raised with (Lambda's errorMessage)
    refused: rules.Refused | None = None  # TOO_LARGE: what API Gateway answers

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


@dataclass(frozen=True)
class StreamPrelude:
    """A streamed response's status and headers, from the function's metadata: ``headers`` and
    ``multiValueHeaders`` merged (a name in both keeps the multi-value ones, as API Gateway
    does), ``cookies`` apart (each a ``Set-Cookie``)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    cookies: tuple[str, ...]


@dataclass(frozen=True)
class StreamEnd:
    """The last item of a streamed invocation. ``status`` OK: the function closed its stream;
    RAISED: it raised after its first byte (the Runtime API's error trailers); ERROR: it timed
    out or its worker died; TIMEOUT: a limit of the streamed response cut it (``reason`` says
    which). Whatever ends a started stream, the caller has its status already: only the end of
    the body tells it apart from success."""

    status: Status
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


@dataclass(frozen=True)
class StreamLimits:
    """A streamed REST response's limits (tunnel_shared.limits); tests shrink them."""

    max_seconds: float = STREAM_MAX_SECONDS
    idle_seconds: float = STREAM_IDLE_TIMEOUT_SECONDS
    unthrottled_bytes: int = STREAM_UNTHROTTLED_BYTES
    throttled_bytes_per_second: float = STREAM_THROTTLED_BYTES_PER_SECOND


Streamed = Outcome | StreamPrelude | bytes | StreamEnd


def code_name(function_name: str, environment: str) -> str | None:
    """``http-tunnel-connect-dev`` -> ``connect``: its folder in ``functions/``, in logs."""
    return names.thing_of(function_name, environment)


def pass_env_names(environment: Mapping[str, str]) -> tuple[str, ...]:
    """The names listed in ``LOCAL_GATEWAY_PASS_ENV``."""
    listed = environment.get(PASS_ENV_VARIABLE, "")
    return tuple(name.strip() for name in listed.split(",") if name.strip())


def function_environment(
    function: DeployedFunction,
    region: str,
    task_root: Path,
    gateway_environment: Mapping[str, str],
    overrides: Mapping[str, str],
    pass_env: Iterable[str] = (),
) -> dict[str, str]:
    """The whole ``os.environ`` of ``function``'s worker, later entries winning."""
    environment = {k: gateway_environment[k] for k in _TO_RUN if k in gateway_environment}
    environment["PYTHONUNBUFFERED"] = "1"  # what the handler prints shows at once
    # Deliberately local-only (the tests' records folder); a deployed variable wins.
    environment.update({k: gateway_environment[k] for k in pass_env if k in gateway_environment})
    environment.update(function.environment)
    # An override replaces a deployed value; it gives no function a variable it was not given.
    environment.update({k: v for k, v in overrides.items() if k in function.environment})
    # Lambda's reserved variables (those that mean something here); a function cannot set them.
    environment.update(
        {
            "_HANDLER": function.handler,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            LOG_GROUP_VARIABLE: f"/aws/lambda/{function.name}",
            "LAMBDA_TASK_ROOT": str(task_root),
            "TZ": ":UTC",
        }
    )
    environment.update(
        {
            k: v
            for k, v in gateway_environment.items()
            if k in _GATEWAY_AWS or k.startswith(_ENDPOINT_PREFIX)
        }
    )
    return environment


# Lines about a streamed invocation only.
_STREAM_KINDS = (b"chunk", b"end", b"failed")


class _Worker:
    """The parent's side of one function's worker process."""

    def __init__(self, function: DeployedFunction, task_root: Path, env: dict[str, str]) -> None:
        self.function = function
        self._task_root = task_root
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._leftover = b""  # read with the ready line, before the pipes joined the loop
        self._load_error: str | None = None  # the handler cannot be imported: final
        self._connected: asyncio.WriteTransport | None = None  # its stdin, once in the loop
        self._alive = False  # ready for invocations
        self._dead = False  # its output ended: the process is gone or going
        self._ready: asyncio.Future[str | None] | None = None
        self._starting: asyncio.Future[str | None] | None = None
        self._pending: dict[int, asyncio.Future[Outcome]] = {}
        # Streamed invocations: each line about one (chunk, end, failed, raised, error) in order.
        self._streams: dict[int, asyncio.Queue[tuple[str, bytes]]] = {}
        self._ids = itertools.count(READY_ID + 1)
        self._stopping = False
        self._reaping: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak refs
        self.in_flight = 0  # invocations sent its way and not yet answered (LambdaRuntime's)
        self.log_stream = ""  # its CloudWatch Logs stream, named at each spawn
        self._output: lambda_logs.OutputReader | None = None  # reads what it prints

    @property
    def load_error(self) -> str | None:
        return self._load_error

    def spawn(self) -> None:
        # A new process is a new execution environment: a log stream of its own, which Lambda
        # names in the runtime's environment as well as in its context.
        self.log_stream = lambda_logs.stream_name()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local_gateway.function_worker", self._spec()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**self._env, LOG_STREAM_VARIABLE: self.log_stream},
            bufsize=0,
        )
        self._ship_output(self._process)
        self._leftover = b""
        self._connected = None
        self._alive = self._dead = False

    def _drain_output(self) -> None:
        """What the worker printed before this reply (or its exit), on stderr first."""
        if self._output is not None:
            self._output.drain()

    def _spec(self) -> str:
        return spec_of(self.function, self._task_root)

    def _ship_output(self, process: subprocess.Popen[bytes]) -> None:
        """What the worker prints, read here until it ends (as Lambda's platform reads it, from
        outside): on to the gateway's stderr, and to the function's log group, in this
        environment's stream (local_gateway.lambda_logs)."""
        assert process.stderr is not None
        name = self.function.name

        def note(what: str) -> None:
            print(f"local gateway: {name}: {what}", file=sys.stderr, flush=True)

        shipper = lambda_logs.LogShipper(
            _logs_client, self._env[LOG_GROUP_VARIABLE], self.log_stream, LOG_LIMITS, note
        )
        shipper.start()
        # The reader owns the pipe's descriptor from here; the file object must not close it.
        self._output = lambda_logs.OutputReader(
            os.dup(process.stderr.fileno()), sys.stderr.fileno(), shipper
        )
        self._output.start()
        process.stderr.close()

    def wait_ready(self, deadline: float) -> None:
        """At start-up, before there is a loop: read the ready line from the raw pipe."""
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        data = b""
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                self._fail_start(f"did not start within {START_SECONDS:.0f} s")
                return
            chunk = os.read(fd, 65536)
            if not chunk:
                self._fail_start(f"exited while starting (code {self._process.wait()})")
                return
            data += chunk
        line, _, self._leftover = data.partition(b"\n")
        try:
            invocation, kind, body = line.split(b" ", 2)
            assert int(invocation) == READY_ID and kind == b"ready"
            error = json.loads(body)["error"]
        except (ValueError, AssertionError, KeyError, TypeError):
            self._fail_start(f"said {line[:200]!r} instead of ready")
            return
        if error is not None:
            self._fail_start(error, as_is=True)

    def _fail_start(self, why: str, as_is: bool = False) -> None:
        self._load_error = why if as_is else f"Runtime.ExitError: its worker {why}"
        self.kill()

    async def start(self) -> None:
        """On the loop: start the worker and wait until it is ready (or cannot be)."""
        await self._running()

    async def invoke(self, payload: str) -> Outcome:
        not_running = await self._running()
        if not_running is not None:
            return not_running
        assert self._connected is not None
        invocation = next(self._ids)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending[invocation] = future
        try:
            self._connected.write(f"{invocation} {payload}\n".encode())
            return await future
        finally:
            self._pending.pop(invocation, None)  # answered, or abandoned on a timeout

    async def invoke_stream(
        self, payload: str
    ) -> Outcome | tuple[int, asyncio.Queue[tuple[str, bytes]]]:
        """Start a streamed invocation: its id and the queue of its lines, or why not."""
        not_running = await self._running()
        if not_running is not None:
            return not_running
        assert self._connected is not None
        invocation = next(self._ids)
        lines: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._streams[invocation] = lines
        self._connected.write(f"{invocation} stream {payload}\n".encode())
        return invocation, lines

    def end_stream(self, invocation: int) -> None:
        """Forget a streamed invocation and tell its handler nobody reads it any more (if it is
        still writing, its next write raises ``CallerGone``; if it is done, the worker ignores
        it): the caller went away, or a limit cut the stream."""
        self._streams.pop(invocation, None)
        if self._connected is not None and not self._dead:
            self._connected.write(f"{invocation} gone\n".encode())

    async def _running(self) -> Outcome | None:
        """None once the worker takes invocations (started again if it died), else why not."""
        if not self._alive and self._load_error is None and not self._stopping:
            if self._starting is None or self._starting.done():
                self._starting = asyncio.ensure_future(self._connect())
            # Shielded: an invocation that times out must not leave a start half done.
            problem = await asyncio.shield(self._starting)
            if problem is not None:
                return Outcome(Status.ERROR, reason=f"{self.function.name}: {problem}")
        if self._load_error is not None:
            return Outcome(
                Status.ERROR, reason=f"{self.function.name}: {self._load_error.splitlines()[-1]}"
            )
        if not self._alive:
            return Outcome(Status.ERROR, reason=f"{self.function.name}: the gateway is stopping")
        return None

    async def _connect(self) -> str | None:
        """Join the worker's pipes to the loop, starting it (again) if it is not running."""
        try:
            loop = asyncio.get_running_loop()
            restart = self._process is None or self._dead or self._process.poll() is not None
            if restart:
                if self._process is not None:
                    access_log.note(f"{self.function.name}: starting its worker again")
                self.spawn()
            assert self._process is not None and self._process.stdin and self._process.stdout
            self._ready = loop.create_future()
            if not restart:
                self._ready.set_result(None)  # wait_ready has read it
            await loop.connect_read_pipe(
                lambda: _ReplyReader(self, self._leftover), self._process.stdout
            )
            self._connected, _ = await loop.connect_write_pipe(
                asyncio.Protocol, self._process.stdin
            )
            error = await asyncio.wait_for(self._ready, START_SECONDS)
        except TimeoutError:
            self._fail_start(f"did not start within {START_SECONDS:.0f} s")
            return None
        except ConnectionError as died:  # it exited before it was ready
            self._load_error = f"Runtime.ExitError: its worker {died}"
            return None
        except Exception as error:  # noqa: BLE001 - e.g. no more processes: try again later
            self.kill()
            return f"cannot start its worker: {error!r}"
        if error is not None:
            self._fail_start(error, as_is=True)
            return None
        self._alive = not self._dead
        return None

    def reply(self, line: bytes) -> None:
        """A line from the worker, on the loop."""
        self._drain_output()
        invocation_text, kind, body = line.split(b" ", 2)
        invocation = int(invocation_text)
        if invocation == READY_ID:
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(json.loads(body)["error"])
            return
        lines = self._streams.get(invocation)
        if lines is not None:
            lines.put_nowait((kind.decode(), body))
            return
        if kind in _STREAM_KINDS:
            return  # a stream nobody reads any more (its caller went away, a limit cut it)
        outcome = self._outcome(kind.decode(), body)
        future = self._pending.get(invocation)
        if future is not None and not future.done():
            future.set_result(outcome)

    def _outcome(self, kind: str, body: bytes) -> Outcome:
        if kind == "ok":
            text = body.decode()
            # Checked here, not in the worker: the worker's imports must not shadow the
            # function's own tunnel_shared (a function folder ships its own copy, as in its zip).
            try:
                rules.check_invocation_response(len(text))  # ASCII: characters are bytes
            except rules.Refused as refused:
                reason = f"{self.function.name}: {refused.code}: {refused.message}"
                return Outcome(Status.RESULT_TOO_LARGE, reason=reason)
            return Outcome(Status.OK, json.loads(text), text)
        details = json.loads(body)
        if kind == "raised":
            # Where CloudWatch Logs would have it: the gateway's stderr, never a response.
            print(f"[{self.function.name}] {details['traceback']}", file=sys.stderr, flush=True)
            return Outcome(
                Status.RAISED, reason=details["reason"], error_message=details["error_message"]
            )
        return Outcome(Status.ERROR, reason=details["reason"])

    def lost(self, why: str) -> None:
        """The worker's output ended (it exited) or made no sense: fail what it was running."""
        if self._dead:
            return
        self._drain_output()
        self._dead = True
        self._alive = False
        if self._connected is not None:
            self._connected.close()
        process = self._process
        if process is not None and process.poll() is None and why != "exited":
            process.kill()  # it spoke nonsense: it cannot be trusted with more
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(ConnectionError("exited while starting"))
        reason = f"{self.function.name}: Runtime.ExitError: its worker {why}"
        for future in self._pending.values():
            if not future.done():
                future.set_result(Outcome(Status.ERROR, reason=reason))
        for lines in self._streams.values():
            lines.put_nowait(("error", json.dumps({"reason": reason}).encode()))
        if process is not None and not self._stopping and self._load_error is None:
            task = asyncio.ensure_future(self._reaped(process, reason))
            self._reaping.add(task)
            task.add_done_callback(self._reaping.discard)

    async def _reaped(self, process: subprocess.Popen[bytes], reason: str) -> None:
        """Collect the exit code of a worker that died (without blocking the loop) and say it."""
        deadline = time.monotonic() + STOP_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if process.poll() is None:
            process.kill()  # it closed its output but runs on
        access_log.note(f"{reason} (code {process.wait()}); the next invocation starts it again")

    def close_input(self) -> None:
        """Stopping: the worker exits when its stdin ends."""
        self._stopping = True
        if self._connected is not None:
            self._connected.close()
        elif self._process is not None and self._process.stdin is not None:
            self._process.stdin.close()

    def exited(self) -> bool:
        return self._process is None or self._process.poll() is not None

    def kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()


class _ReplyReader(asyncio.Protocol):
    """The worker's stdout, split into lines (results may be megabytes: scan each byte once)."""

    def __init__(self, worker: _Worker, leftover: bytes) -> None:
        self._worker = worker
        self._buffer = bytearray()
        self._leftover = leftover

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._leftover:
            self.data_received(self._leftover)

    def data_received(self, data: bytes) -> None:
        search_from = len(self._buffer)
        self._buffer += data
        start = 0
        while (end := self._buffer.find(b"\n", search_from)) >= 0:
            line = bytes(self._buffer[start:end])
            start = search_from = end + 1
            try:
                self._worker.reply(line)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
                self._worker.lost(f"sent an unreadable line ({error})")
                return
        if start:
            del self._buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        self._worker.lost("exited")


class LambdaRuntime:
    def __init__(
        self,
        deployment: Deployment,
        lam: Any,
        overrides: Mapping[str, str] | None = None,
        pass_env: Iterable[str] = (),
        gateway_environment: Mapping[str, str] | None = None,
        cache: CodeCache | None = None,
    ) -> None:
        """``lam``: a boto3 Lambda client, for each function's deployed code."""
        self._deployment = deployment
        self._lambda = lam
        self._cache = cache or CodeCache()
        self._overrides = dict(overrides or {})
        self._pass_env = tuple(pass_env)
        self._gateway_environment = dict(
            os.environ if gateway_environment is None else gateway_environment
        )
        # ARN -> the function's worker, or why there is none.
        self._workers: dict[str, _Worker | str] = {}
        # ARN -> the CodeSha256 its worker runs (absent: no code fetched yet).
        self._running_code: dict[str, str] = {}
        self._failed_code: dict[str, str] = {}  # ARN -> the CodeSha256 last failed, logged once
        # ARN -> the settings its worker was started with (_start_key): a change restarts it.
        self._started: dict[str, tuple[Any, ...]] = {}
        self._retiring: set[_Worker] = set()  # replaced, finishing their invocations
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak refs

    def load(self) -> list[str]:
        """Fetch every deployed function's code and start its worker; return a warning per one
        that cannot run."""
        warnings = []
        started = []
        live = {arn: f for arn, f in self._deployment.functions.items() if f is not None}
        with ThreadPoolExecutor(max_workers=max(1, len(live))) as pool:
            fetched = dict(zip(live, pool.map(self._fetch, live), strict=True))
        for arn, function in self._deployment.functions.items():
            if function is None:
                warnings.append(f"{arn}: not deployed")
                continue
            self._started[arn] = self._start_key(function)
            code = fetched[arn]
            if isinstance(code, str):
                self._workers[arn] = f"cannot fetch its deployed code: {code}"
                self._failed_code[arn] = function.code_sha256
                warnings.append(f"{function.name}: {self._workers[arn]}")
                continue
            self._running_code[arn] = code.sha256
            worker = self._worker(replace(function, code_sha256=code.sha256), code.task_root)
            self._workers[arn] = worker
            if isinstance(worker, str):
                warnings.append(f"{function.name}: {worker}")
                continue
            worker.spawn()  # all at once: each imports boto3 and its handler
            started.append(worker)
        deadline = time.monotonic() + START_SECONDS
        for worker in started:
            worker.wait_ready(deadline)
            if worker.load_error is not None:
                warnings.append(f"{worker.function.name}: {worker.load_error}")
        return warnings

    def _fetch(self, arn: str) -> Code | str:
        try:
            return self._cache.fetch(self._lambda, arn)
        except CodeUnavailable as why:
            return str(why)

    def _worker(self, function: DeployedFunction, task_root: Path) -> _Worker | str:
        module_path, _, attribute = function.handler.rpartition(".")
        if not module_path or not attribute:
            return f"Runtime.InvalidEntrypoint: handler {function.handler!r}"
        source = task_root / (module_path.replace(".", "/") + ".py")
        if not source.is_file():
            return (
                f"Runtime.ImportModuleError: Unable to import module {module_path!r}: "
                f"no {source.relative_to(task_root)} in its deployment package"
            )
        environment = function_environment(
            function,
            self._deployment.region,
            task_root,
            self._gateway_environment,
            self._overrides,
            self._pass_env,
        )
        return _Worker(function, task_root, environment)

    def _label(self, function: DeployedFunction) -> str:
        return code_name(function.name, self._deployment.environment) or function.name

    def _start_key(self, function: DeployedFunction) -> tuple[Any, ...]:
        """What a worker of ``function`` is started with besides its code: its settings and
        the overrides that apply to it."""
        overrides = sorted((k, v) for k, v in self._overrides.items() if k in function.environment)
        return (function.run_settings(), tuple(overrides))

    async def check_code(self) -> bool:
        """Read each function's configuration once (the gateway's follower calls this every
        ``CODE_POLL_SECONDS``) and switch a function whose CodeSha256 changed
        (UpdateFunctionCode, a launch) to its new code. True if a function's other settings
        (handler, timeout, memory, environment) differ from the deployment's: the deployment
        must be read again (``reconfigure``). The AWS calls run on a thread: invocations never
        wait for them."""
        drifted = False
        for arn, function in list(self._deployment.functions.items()):
            if function is not None:
                drifted = await self._check_code(arn, function) or drifted
        return drifted

    async def _check_code(self, arn: str, function: DeployedFunction) -> bool:
        try:
            # GetFunction: its own 100/s quota, not the control plane's shared 15/s.
            answer = await asyncio.to_thread(self._lambda.get_function, FunctionName=arn)
            configuration = answer["Configuration"]
        except Exception:  # noqa: BLE001 - the emulator went away, a throttle: try again later
            return False
        if configuration.get("LastUpdateStatus") == "InProgress":
            # "While a function update is in progress, invocations go to the function's
            # previous code and configuration" (aws_fidelity.rules.check_no_update_in_progress).
            return False
        try:
            configured = function_of(configuration, function.policy)
        except (KeyError, TypeError, ValueError, AttributeError):
            return False
        if configured.run_settings() != function.run_settings():
            return True  # reconfigure() switches it, to its new code too
        sha = configured.code_sha256
        if not sha or sha == self._running_code.get(arn):
            return False
        code = await asyncio.to_thread(self._fetch, arn)
        label = self._label(function)
        if isinstance(code, str):
            if self._failed_code.get(arn) != sha:
                self._failed_code[arn] = sha
                running = self._running_code.get(arn)
                still = f"still running code {sha_hex(running)[:12]}" if running else "no code"
                access_log.note(f"{label}: cannot fetch code {sha_hex(sha)[:12]} ({code}); {still}")
            return False
        self._failed_code.pop(arn, None)
        if code.sha256 == self._running_code.get(arn):
            return False  # changed and changed back before it was fetched
        await self._switch(arn, replace(function, code_sha256=code.sha256), code, label)
        return False

    async def reconfigure(self, deployment: Deployment, overrides: Mapping[str, str]) -> None:
        """Follow a new deployment of the environment: new invocations get its functions and
        their invoke permissions at once; a function whose worker would now start differently
        (its code, handler, timeout, memory or environment, the gateway's overrides included)
        gets a new worker, switched to as new code is (``_switch``: no invocation in flight
        fails); a function no integration names any more stops once its invocations are
        answered."""
        self._deployment = deployment
        self._overrides = dict(overrides)
        await asyncio.gather(  # the new workers start side by side, as at start-up
            *(
                self._reconfigure_function(arn, function)
                for arn, function in deployment.functions.items()
                if function is not None
            )
        )
        for arn in [a for a in self._workers if deployment.functions.get(a) is None]:
            old = self._workers.pop(arn)
            for kept in (self._running_code, self._failed_code, self._started):
                kept.pop(arn, None)
            if isinstance(old, _Worker):
                self._retire_later(old)

    async def _reconfigure_function(self, arn: str, function: DeployedFunction) -> None:
        key = self._start_key(function)
        running = self._running_code.get(arn)
        sha = function.code_sha256
        if arn in self._workers and self._started.get(arn) == key:
            if sha in (running, self._failed_code.get(arn)):
                return  # started as it would be now (or its code cannot be had, as before)
        label = self._label(function)
        code = await asyncio.to_thread(self._fetch, arn)
        if isinstance(code, str):
            self._failed_code[arn] = function.code_sha256
            if arn not in self._workers:
                self._workers[arn] = f"cannot fetch its deployed code: {code}"
                self._started[arn] = key
            still = f"still running code {sha_hex(running)[:12]}" if running else "no code"
            access_log.note(f"{label}: cannot fetch its deployed code ({code}); {still}")
            return
        self._failed_code.pop(arn, None)
        new_code = code.sha256 != running
        await self._switch(arn, replace(function, code_sha256=code.sha256), code, label, new_code)

    async def _switch(
        self,
        arn: str,
        function: DeployedFunction,
        code: Code,
        label: str,
        new_code: bool = True,
    ) -> None:
        """Start a worker on ``code``, send new invocations to it once it is ready, and stop the
        old worker once it has answered the invocations it was running."""
        new = self._worker(function, code.task_root)
        if isinstance(new, _Worker):
            await new.start()  # ready, or its handler failed to import: as Lambda would run it
        old = self._workers.get(arn)
        self._workers[arn] = new
        self._running_code[arn] = code.sha256
        self._started[arn] = self._start_key(function)
        if new_code:
            access_log.note(f"{label}: now running code {code.short}")
        if isinstance(new, str):
            access_log.note(f"{label}: {new}")
        elif new.load_error is not None:
            access_log.note(f"{label}: {new.load_error.splitlines()[-1]}")
        if isinstance(old, _Worker):
            self._retire_later(old)

    def _retire_later(self, worker: _Worker) -> None:
        self._retiring.add(worker)
        task = asyncio.ensure_future(self._retire(worker))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retire(self, worker: _Worker) -> None:
        # Its invocations end by their own timeout at the latest (an abandoned one is cut off).
        deadline = time.monotonic() + worker.function.timeout_seconds + STOP_SECONDS
        while worker.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        worker.close_input()
        stop_by = time.monotonic() + STOP_SECONDS
        while not worker.exited() and time.monotonic() < stop_by:
            await asyncio.sleep(0.02)
        worker.kill()
        self._retiring.discard(worker)

    async def invoke(
        self, function_arn: str | None, event: dict[str, Any], source_arn: str, timeout_ms: int
    ) -> Outcome:
        """Invoke as API Gateway would from ``source_arn``, giving up after ``timeout_ms``."""
        function = self._deployment.functions.get(function_arn) if function_arn else None
        if function is None:
            return Outcome(
                Status.ERROR, reason=f"integration names no deployed function ({function_arn})"
            )
        if not iam.api_gateway_may_invoke(
            function.policy, function.arn, source_arn, self._deployment.account_id
        ):
            return Outcome(
                Status.ERROR,
                reason=f"{function.name}'s resource policy does not let {source_arn} invoke it",
            )
        payload = json.dumps(event)
        try:
            rules.check_invocation_request(len(payload))  # ASCII: characters are bytes
        except rules.Refused as refused:
            return Outcome(
                Status.TOO_LARGE,
                reason=f"{function.name}: RequestEntityTooLargeException: Request must be "
                f"smaller than {LAMBDA_REQUEST_PAYLOAD_BYTES} bytes for the InvokeFunction "
                f"operation ({len(payload)} bytes)",
                refused=refused,
            )
        worker = self._workers.get(function.arn, "not loaded")
        if isinstance(worker, str):
            return Outcome(Status.ERROR, reason=f"{function.name}: {worker.splitlines()[-1]}")
        limit = min(timeout_ms / 1000, function.timeout_seconds)
        # Counted from the moment it is chosen: a worker being replaced stops only at zero.
        worker.in_flight += 1
        try:
            return await asyncio.wait_for(worker.invoke(payload), limit)
        except TimeoutError:
            if function.timeout_seconds <= timeout_ms / 1000:
                return Outcome(
                    Status.ERROR,
                    reason=f"{function.name}: Task timed out after {limit:.2f} seconds",
                )
            return Outcome(Status.TIMEOUT, reason=f"integration timed out after {limit:.2f} s")
        finally:
            worker.in_flight -= 1

    async def invoke_streaming(
        self,
        function_arn: str | None,
        event: dict[str, Any],
        source_arn: str,
        timeout_ms: int,
        limits: StreamLimits = StreamLimits(),  # noqa: B008 - frozen, shared safely
    ) -> AsyncIterator[Streamed]:
        """Invoke as a REST API integration with ``ResponseTransferMode: STREAM`` does
        (InvokeWithResponseStream): the function's ``stream_handler`` runs in its worker and its
        stream comes back as it is written. Yields, in order:

        - an :class:`Outcome`, and nothing else, if there is no stream: the invocation was not
          made, failed before its first byte, timed out first, or its metadata broke
          ``rules.check_stream_prelude`` (then ``refused`` says what API Gateway answers: 500);
        - else a :class:`StreamPrelude` (status, headers, cookies), then each chunk of the body
          as ``bytes``, then one :class:`StreamEnd`.

        Limits (``limits``, from tunnel_shared.limits): the stream ends after ``timeout_ms`` (the
        integration's timeout), the function's timeout or ``max_seconds``, whichever is first,
        and after ``idle_seconds`` without a chunk; past ``unthrottled_bytes`` the chunks are
        paced to ``throttled_bytes_per_second``. Closing the iterator early (the caller went
        away) tells the handler: its next write raises ``CallerGone``."""
        function = self._deployment.functions.get(function_arn) if function_arn else None
        if function is None:
            yield Outcome(
                Status.ERROR, reason=f"integration names no deployed function ({function_arn})"
            )
            return
        if not iam.api_gateway_may_invoke(
            function.policy, function.arn, source_arn, self._deployment.account_id
        ):
            yield Outcome(
                Status.ERROR,
                reason=f"{function.name}'s resource policy does not let {source_arn} invoke it",
            )
            return
        payload = json.dumps(event)
        try:
            rules.check_invocation_request(len(payload))  # ASCII: characters are bytes
        except rules.Refused as refused:
            yield Outcome(Status.TOO_LARGE, reason=f"{function.name}: {refused}", refused=refused)
            return
        worker = self._workers.get(function.arn, "not loaded")
        if isinstance(worker, str):
            yield Outcome(Status.ERROR, reason=f"{function.name}: {worker.splitlines()[-1]}")
            return
        loop = asyncio.get_running_loop()
        limit = min(timeout_ms / 1000, function.timeout_seconds, limits.max_seconds)
        deadline = loop.time() + limit
        worker.in_flight += 1
        began = await worker.invoke_stream(payload)
        if isinstance(began, Outcome):
            worker.in_flight -= 1
            yield began
            return
        invocation, lines = began
        try:
            async for item in _stream_items(function, worker, lines, deadline, limit, limits):
                yield item
        finally:
            worker.in_flight -= 1
            worker.end_stream(invocation)

    async def shutdown(self, timeout: float = STOP_SECONDS) -> None:
        """Close every worker's stdin (it exits); kill those still running after ``timeout``;
        remove the unpacked code."""
        for task in list(self._tasks):
            task.cancel()
        workers = [w for w in self._workers.values() if isinstance(w, _Worker)]
        workers += list(self._retiring)
        for worker in workers:
            worker.close_input()
        deadline = time.monotonic() + timeout
        while not all(w.exited() for w in workers) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for worker in workers:
            worker.kill()
        self._cache.close()

    def close(self) -> None:
        """Without a loop (a start that failed or was interrupted): stop every worker at once
        and remove the unpacked code."""
        for worker in [*self._workers.values(), *self._retiring]:
            if isinstance(worker, _Worker):
                worker.kill()
        self._cache.close()


async def _stream_items(
    function: DeployedFunction,
    worker: _Worker,
    lines: asyncio.Queue[tuple[str, bytes]],
    deadline: float,
    limit: float,
    limits: StreamLimits,
) -> AsyncIterator[Streamed]:
    """A streamed invocation's lines turned into what ``invoke_streaming`` yields."""
    loop = asyncio.get_running_loop()
    head = b""  # the stream before its delimiter
    prelude_sent = False
    sent = 0
    throttled_from: float | None = None
    while True:
        idle = loop.time() + limits.idle_seconds
        try:
            kind, body = await asyncio.wait_for(
                lines.get(), max(0.0, min(deadline, idle) - loop.time())
            )
        except TimeoutError:
            if idle < deadline:
                why, status = (
                    f"no data for {limits.idle_seconds:g} s: the idle timeout",
                    Status.TIMEOUT,
                )
            elif limit == function.timeout_seconds:
                why, status = (
                    f"{function.name}: Task timed out after {limit:.2f} seconds",
                    Status.ERROR,
                )
            elif limit == limits.max_seconds:
                why, status = f"the stream reached its {limit:g} s limit", Status.TIMEOUT
            else:
                why, status = f"integration timed out after {limit:.2f} s", Status.TIMEOUT
            yield StreamEnd(status, why) if prelude_sent else Outcome(status, reason=why)
            return
        if kind == "chunk":
            data = base64.b64decode(body)
            if not prelude_sent:
                head += data
                try:
                    parsed = rules.check_stream_prelude(head, ended=False)
                except rules.Refused as refused:
                    yield _bad_prelude(function, refused)
                    return
                if parsed is None:
                    continue
                metadata, used = parsed
                yield _prelude_of(metadata)
                prelude_sent = True
                data, head = head[used:], b""
                if not data:
                    continue
            sent += len(data)
            if sent > limits.unthrottled_bytes:
                # The first bytes are free, the rest goes at the throttled rate from then on.
                throttled_from = loop.time() if throttled_from is None else throttled_from
                due = (
                    throttled_from
                    + (sent - limits.unthrottled_bytes) / limits.throttled_bytes_per_second
                )
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
            yield data
        elif kind == "end":
            if not prelude_sent:
                try:
                    parsed = rules.check_stream_prelude(head, ended=True)
                except rules.Refused as refused:
                    yield _bad_prelude(function, refused)
                    return
                assert parsed is not None
                yield _prelude_of(parsed[0])
                rest = head[parsed[1] :]
                if rest:
                    yield rest
            yield StreamEnd(Status.OK)
            return
        elif kind == "failed":
            details = json.loads(body)
            why = f"{function.name} raised {details['error_type']} after its first byte"
            print(f"[{function.name}] {why}: {details['error_body']}", file=sys.stderr, flush=True)
            yield (
                StreamEnd(Status.RAISED, why)
                if prelude_sent
                else Outcome(Status.RAISED, reason=why)
            )
            return
        else:  # raised or error, before any chunk
            outcome = worker._outcome(kind, body)
            yield StreamEnd(outcome.status, outcome.reason) if prelude_sent else outcome
            return


def _bad_prelude(function: DeployedFunction, refused: rules.Refused) -> Outcome:
    return Outcome(Status.ERROR, reason=f"{function.name}: {refused.message}", refused=refused)


def _prelude_of(metadata: dict[str, Any]) -> StreamPrelude:
    multi = metadata.get("multiValueHeaders", {})
    in_multi = {name.lower() for name in multi}
    headers = [(k, v) for k, v in metadata.get("headers", {}).items() if k.lower() not in in_multi]
    headers += [(name, value) for name, values in multi.items() for value in values]
    return StreamPrelude(
        status=metadata.get("statusCode", 200),
        headers=tuple(headers),
        cookies=tuple(metadata.get("cookies", ())),
    )
