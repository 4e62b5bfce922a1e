"""``tunnel logs``: what the environment's functions did, one line per invocation.

Every function prints one JSON line per invocation (tunnel_shared.log.Invocation): its name, its
Lambda request id, what it noted (subdomain, status, the tunnel's request id) and its duration;
never a token, a body or a query string. This command reads those lines from every function's
log group at once and prints, per line, its time, function, subdomain, status, duration and
request id (the tunnel's ``requestId``, which joins the forwarding and response lines of one
public request, else the invocation's ``awsRequestId``). A response line carries no subdomain of
its own: it gets the one its request's forwarding line names. Only these six fields are printed;
lines that are not ours (Lambda's START/END/REPORT lines, tracebacks) are skipped.

The groups and the function names come from the functions stack's outputs
(``<Function>FunctionName``, ``<Function>LogGroupName``), so ``--function`` takes the names that
stack declares. Calls: ``cloudformation:DescribeStacks`` and ``logs:FilterLogEvents``
(tunnel_infra.deployer_policy, command ``logs``).

Reading is ``FilterLogEvents`` on each group ("FilterLogEvents", CloudWatch Logs API reference:
one group per call, paginated by ``nextToken``, events sorted by timestamp), merged by timestamp.
``--follow`` polls every second from a little before the newest event seen, skipping the event
ids already printed: events reach FilterLogEvents only once ingested, not in timestamp order
across groups. CloudWatch Logs Live Tail (``StartLiveTail``) is not used: it streams only events
ingested after the session starts (no ``--since``), samples down to 500 events a second, is
charged per session minute and ends after three hours ("StartLiveTail", API reference); and the
local emulator's (moto 5.2) answers one update holding past events, then ends the stream, so the
same code could not be tested on the local stack.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from tunnel_shared import names

from tunnel_cli.terminal import printable
from tunnel_cli.token_command import CommandError, _aws

SINCE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
SINCE_FORMS = "10m, 2h, 1d, 30s or an ISO time such as 2026-12-04T07:30:00Z"
DEFAULT_SINCE = "10m"
# --follow: how often each group is read, and how far before the newest event seen it reads
# again (an event is readable only once ingested, which may be after later ones).
POLL_SECONDS = 1.0
REREAD_MS = 60_000
# A response line whose forwarding line has not been read yet waits this many polls for its
# subdomain, then is printed without one.
HOLD_POLLS = 3
OUTPUT_SUFFIXES = ("FunctionName", "LogGroupName")


@dataclass(frozen=True)
class Line:
    """One invocation, as printed."""

    timestamp_ms: int
    function: str
    subdomain: str | None
    status: str
    ms: float | None
    request_id: str
    tunnel_request: bool  # request_id is the tunnel's (joins forwarding and response)

    def text(self, subdomain: str | None = None) -> str:
        moment = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)
        when = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        duration = "-" if self.ms is None else f"{self.ms:.1f}ms"
        shown = subdomain or self.subdomain or "-"
        return printable(
            f"{when}  {self.function:<10}  {shown:<20}  {self.status:<8}  {duration:>9}  "
            f"{self.request_id}"
        )


def parse_since(text: str, now: float | None = None) -> int:
    """``10m``, ``2h``, ``1d``, ``30s`` ago, or an ISO 8601 time (UTC unless it says), as epoch
    milliseconds. Raises CommandError naming the problem."""
    now = time.time() if now is None else now
    match = SINCE.match(text)
    if match:
        return int((now - int(match.group(1)) * UNIT_SECONDS[match.group(2)]) * 1000)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"--since {text!r} is not a duration or a time; use {SINCE_FORMS}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def log_groups(session: Any, environment: str) -> dict[str, str]:
    """Function name (``forwarding``) -> its log group, from the functions stack's outputs."""
    stack = names.stack_name(environment, "functions")
    described = _aws(
        lambda: session.client("cloudformation").describe_stacks(StackName=stack),
        f"reading stack {stack} (is {environment} launched here?)",
    )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}
    groups = {}
    for key, group in outputs.items():
        if not key.endswith("LogGroupName"):
            continue
        deployed = outputs.get(key.removesuffix("LogGroupName") + "FunctionName", "")
        groups[names.thing_of(deployed, environment) or deployed] = group
    if not groups:
        raise CommandError(f"stack {stack} names no log groups in its outputs")
    return groups


def chosen_groups(groups: dict[str, str], functions: Iterable[str]) -> dict[str, str]:
    """The groups of ``--function`` NAME (repeated or comma-separated), all when none is given."""
    wanted = [name.strip() for given in functions for name in given.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in groups]
    if unknown:
        raise CommandError(
            f"--function {', '.join(unknown)}: not a function of this environment "
            f"(its functions: {', '.join(sorted(groups))})"
        )
    return {name: groups[name] for name in wanted} if wanted else dict(groups)


def parse_line(timestamp_ms: int, message: str) -> Line | None:
    """An Invocation line as a Line; None for any other line."""
    text = message.strip()
    if not text.startswith("{"):
        return None
    try:
        fields = json.loads(text)
    except ValueError:
        return None
    if not isinstance(fields, dict) or not isinstance(fields.get("function"), str):
        return None
    if "awsRequestId" not in fields or "ms" not in fields:
        return None
    status = fields.get("status", fields.get("outcome"))
    ms = fields.get("ms")
    tunnel_request = isinstance(fields.get("requestId"), str)
    request_id = fields["requestId"] if tunnel_request else fields.get("awsRequestId")
    subdomain = fields.get("subdomain")
    return Line(
        timestamp_ms=timestamp_ms,
        function=fields["function"],
        subdomain=subdomain if isinstance(subdomain, str) else None,
        status="-" if status is None else str(status),
        ms=float(ms) if isinstance(ms, int | float) else None,
        request_id=str(request_id or "-"),
        tunnel_request=tunnel_request,
    )


def read_events(client: Any, groups: Iterable[str], start_ms: int) -> list[dict[str, Any]]:
    """Every event of ``groups`` from ``start_ms`` on, all pages, in timestamp order."""
    events: list[dict[str, Any]] = []
    for group in groups:
        token: str | None = None
        while True:
            arguments: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
            if token:
                arguments["nextToken"] = token
            page = _aws(lambda a=arguments: client.filter_log_events(**a), f"reading {group}")
            events += page.get("events", [])
            following = page.get("nextToken")
            if not following or following == token:
                break
            token = following
    events.sort(key=lambda event: (event["timestamp"], event.get("eventId", "")))
    return events


class Printer:
    """Turns events into printed lines: filters by subdomain, fills in a response line's
    subdomain from its request's forwarding line, holds one back until it is known."""

    def __init__(self, subdomain: str | None, out: TextIO, hold_polls: int = 0) -> None:
        self._subdomain = subdomain
        self._out = out
        self._hold_polls = hold_polls
        self._subdomains: dict[str, str] = {}  # tunnel request id -> subdomain
        self._held: list[tuple[Line, int]] = []  # lines without a subdomain yet, polls waited

    def take(self, events: Iterable[dict[str, Any]]) -> None:
        lines = [
            line
            for event in events
            if (line := parse_line(int(event["timestamp"]), str(event.get("message", ""))))
        ]
        for line in lines:
            if line.subdomain and line.tunnel_request:
                self._subdomains[line.request_id] = line.subdomain
        waiting = [(line, waited + 1) for line, waited in self._held]
        waiting += [(line, 0) for line in lines]
        self._held = []
        ready = []
        for line, waited in waiting:
            known = line.subdomain or self._subdomains.get(line.request_id)
            if known is None and line.tunnel_request and waited < self._hold_polls:
                self._held.append((line, waited))
            else:
                ready.append((line, known))
        for line, known in sorted(ready, key=lambda item: item[0].timestamp_ms):
            if self._subdomain is None or known == self._subdomain:
                print(line.text(known), file=self._out)
        self._out.flush()

    def finish(self) -> None:
        """Print what is held, subdomain or not."""
        self._hold_polls = 0
        self.take([])


def follow(
    client: Any,
    groups: Iterable[str],
    start_ms: int,
    printer: Printer,
    poll_seconds: float = POLL_SECONDS,
    keep_going: Callable[[], bool] = lambda: True,
) -> None:
    """Print new events as they are ingested, each once (by event id), until interrupted."""
    groups = list(groups)
    seen: dict[str, int] = {}  # event id -> timestamp, forgotten once older than the re-read
    newest = start_ms
    while keep_going():
        reread_from = max(start_ms, newest - REREAD_MS)
        events = [e for e in read_events(client, groups, reread_from) if e["eventId"] not in seen]
        for event in events:
            seen[event["eventId"]] = event["timestamp"]
            newest = max(newest, event["timestamp"])
        printer.take(events)
        seen = {k: v for k, v in seen.items() if v >= newest - REREAD_MS}
        time.sleep(poll_seconds)


def run(
    environment: str,
    functions: Iterable[str],
    subdomain: str | None,
    since: str,
    following: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The command: exit 0, or 2 after one line saying what is wrong."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        start_ms = parse_since(since)
        import boto3

        session = boto3.session.Session()
        groups = chosen_groups(log_groups(session, environment), functions)
        client = session.client("logs")
        if not following:
            printer = Printer(subdomain, out)
            printer.take(read_events(client, groups.values(), start_ms))
            return 0
        print(
            f"Following {', '.join(sorted(groups))} in {environment} (Ctrl-C to stop)",
            file=err,
            flush=True,
        )
        printer = Printer(subdomain, out, HOLD_POLLS)
        try:
            follow(client, groups.values(), start_ms, printer)
        except KeyboardInterrupt:
            printer.finish()
        return 0
    except CommandError as exc:
        print(printable(f"tunnel logs: error: {exc}"), file=err, flush=True)
        return 2
