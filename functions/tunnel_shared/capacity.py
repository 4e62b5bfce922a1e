"""A fair share for every tunnel: at most ``cap`` requests in flight per subdomain.

Each unanswered request holds a forwarding execution, and the executions (the reserved
concurrency) are shared by every tunnel: without a cap, one slow or dead tunnel takes them all.
The count lives in one item per subdomain of the connections table, beside its claim:
``inflight#<subdomain>``, changed only by conditional updates, so it holds under any
concurrency:

- ``acquire`` adds a lease, one attribute ``lease_<requestId>`` = when it expires, and one to
  ``count``, on the condition that ``count < cap``;
- ``release`` removes the lease and takes one off, on the condition that the lease is there,
  and notes ``answeredAt``;
- a forwarding execution that dies cannot release: its lease expires (after the longest a
  request may take), and the next caller who finds the tunnel full removes expired leases first.

A refused request counts in the ``TunnelRejections`` metric: its log line carries CloudWatch's
embedded metric format (no API call, no permission: Lambda's logs become the metric), and the
monitoring stack alarms on it.

The same item tells a tunnel whose agent is connected but silent: leases older than
``SILENT_AFTER_SECONDS`` and no answer since. A request to such a tunnel waits for it only
``SILENT_DEADLINE_SECONDS``, not the full deadline; and a caller who finds it full and silent
is refused at once (``Occupancy.silent``), not held waiting for a slot.

Callers who find the tunnel full and still answering may wait for a slot, but only
``waiters_allowed(cap)`` at a time, each holding an execution: they are counted in the same
item as the leases are (``waiting``, one ``waiter_<requestId>`` attribute each, removed by
``leave``, or by the next ``reap`` once expired), so a tunnel holds at most
``executions_per_tunnel(cap)`` forwarding executions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tunnel_shared.limits import HTTP_API_TIMEOUT_SECONDS, STREAM_MAX_SECONDS

ITEM_PREFIX = "inflight#"
LEASE_PREFIX = "lease_"
WAITER_PREFIX = "waiter_"
# The longest a request may hold its lease (or wait for one): the HTTP API's 30 s, and a margin.
LEASE_SECONDS = HTTP_API_TIMEOUT_SECONDS + 10
# A streamed answer (the REST API edge) holds its lease as long as the stream may last; its
# lease is named apart (``lease_stream_<requestId>``) so that when it was taken stays known.
STREAM_LEASE_PREFIX = LEASE_PREFIX + "stream_"
STREAM_LEASE_SECONDS = STREAM_MAX_SECONDS + 10
# The item outlives the longest lease: its TTL only cleans up a tunnel nobody calls any more.
ITEM_SECONDS = 2 * STREAM_LEASE_SECONDS
SILENT_AFTER_SECONDS = 10
SILENT_DEADLINE_SECONDS = 3.0
METRIC_NAMESPACE = "http-tunnel"
REJECTIONS_METRIC = "TunnelRejections"
# The time the tunnel adds to an answered request (forwarding.handler defines it).
ADDED_TIME_METRIC = "TunnelAddedMilliseconds"


@dataclass(frozen=True)
class Lease:
    subdomain: str
    request_id: str
    # The tunnel's agent has left requests unanswered for a while: wait less for this one.
    agent_silent: bool
    streamed: bool = False

    @property
    def name(self) -> str:
        return _lease_name(self.request_id, self.streamed)


def _lease_name(request_id: str, streamed: bool) -> str:
    return (STREAM_LEASE_PREFIX if streamed else LEASE_PREFIX) + request_id


def _taken(name: str, expires: Any) -> int:
    """When a lease (by its attribute's name and expiry) was taken."""
    held = STREAM_LEASE_SECONDS if name.startswith(STREAM_LEASE_PREFIX) else LEASE_SECONDS
    return int(expires) - held


def embedded_metric(
    environment: str, now: float, name: str, value: float, unit: str
) -> dict[str, Any]:
    """Log fields that make one data point of ``name`` in ``METRIC_NAMESPACE``, by environment:
    CloudWatch's embedded metric format (EMF), which Lambda's logs turn into the metric with no
    API call and no permission. Each metric's value sits at the root under its name.

    Source: "Specification: Embedded metric format" (the ``_aws`` member, its ``Timestamp`` in
    epoch milliseconds and ``CloudWatchMetrics`` directives; a directive's ``Unit`` among
    CloudWatch's units, Milliseconds and Count included),
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html.
    """
    return {
        "_aws": {
            "Timestamp": int(now * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRIC_NAMESPACE,
                    "Dimensions": [["Environment"]],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }
            ],
        },
        "Environment": environment,
        name: value,
    }


def rejection_metric(environment: str, now: float) -> dict[str, Any]:
    """Log fields that make one ``TunnelRejections`` data point, by environment (EMF)."""
    return embedded_metric(environment, now, REJECTIONS_METRIC, 1, "Count")


def added_time_metric(environment: str, milliseconds: float, now: float) -> dict[str, Any]:
    """Log fields that make one ``TunnelAddedMilliseconds`` data point, by environment (EMF):
    what forwarding spent on an answered request besides waiting for the agent's answer
    (forwarding.handler says what it counts)."""
    return embedded_metric(
        environment, now, ADDED_TIME_METRIC, round(max(0.0, milliseconds), 1), "Milliseconds"
    )


def key(subdomain: str) -> dict[str, str]:
    return {"connectionId": f"{ITEM_PREFIX}{subdomain}"}


def acquire(
    table: Any, subdomain: str, request_id: str, cap: int, now: float, streamed: bool = False
) -> Lease | None:
    """A lease for this request (held up to the stream's limit when ``streamed``), or None
    while the tunnel has ``cap`` requests in flight."""
    try:
        item = table.update_item(
            Key=key(subdomain),
            UpdateExpression="SET #lease = :expires, #ttl = :ttl ADD #count :one",
            ConditionExpression="attribute_not_exists(#count) OR #count < :cap",
            ExpressionAttributeNames={
                "#lease": _lease_name(request_id, streamed),
                "#ttl": "ttl",
                "#count": "count",
            },
            ExpressionAttributeValues={
                ":expires": int(now) + (STREAM_LEASE_SECONDS if streamed else LEASE_SECONDS),
                ":ttl": int(now) + ITEM_SECONDS,
                ":one": 1,
                ":cap": cap,
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return None
    return Lease(subdomain, request_id, _silent(item, request_id, now, streamed), streamed)


def waiters_allowed(cap: int) -> int:
    """How many callers may wait for a slot of a full tunnel: as many as its cap. A page load's
    burst past the cap queues (a dev server's page asks for dozens of modules at once); a flood
    beyond twice the cap is refused at once, so one tunnel holds at most twice its cap."""
    return cap


def executions_per_tunnel(cap: int) -> int:
    """The most forwarding executions one tunnel holds: its leases and its waiters."""
    return cap + waiters_allowed(cap)


@dataclass(frozen=True)
class Occupancy:
    """What ``reap`` found in a full tunnel's item."""

    removed: int  # expired leases and waiters removed (their executions died)
    answered_at: int  # when the tunnel last answered a request (0: never)
    oldest_lease: int | None  # when the oldest lease still held was taken

    def silent(self, now: float) -> bool:
        """The agent has left a request unanswered for ``SILENT_AFTER_SECONDS`` and answered
        nothing since it took it: waiting for a slot would hold an execution for nothing."""
        if self.oldest_lease is None or now - self.oldest_lease < SILENT_AFTER_SECONDS:
            return False
        return self.answered_at < self.oldest_lease


def reap(table: Any, subdomain: str, now: float) -> Occupancy:
    """Remove the leases and waiters that have expired (their executions died), and tell a
    busy tunnel from a stuck one."""
    item = table.get_item(Key=key(subdomain), ConsistentRead=True).get("Item") or {}
    removed = 0
    for name, expires in item.items():
        counter = "count" if name.startswith(LEASE_PREFIX) else "waiting"
        if name.startswith((LEASE_PREFIX, WAITER_PREFIX)) and int(expires) < now:
            removed += _remove(table, subdomain, name, {}, counter)
    held = [
        _taken(name, expires)
        for name, expires in item.items()
        if name.startswith(LEASE_PREFIX) and int(expires) >= now
    ]
    return Occupancy(removed, int(item.get("answeredAt", 0)), min(held) if held else None)


def wait(table: Any, subdomain: str, request_id: str, cap: int, now: float) -> bool:
    """Count this caller among the tunnel's waiters; False when ``waiters_allowed(cap)`` wait
    already."""
    try:
        table.update_item(
            Key=key(subdomain),
            UpdateExpression="SET #waiter = :expires ADD #waiting :one",
            ConditionExpression="attribute_not_exists(#waiting) OR #waiting < :most",
            ExpressionAttributeNames={"#waiter": WAITER_PREFIX + request_id, "#waiting": "waiting"},
            ExpressionAttributeValues={
                ":expires": int(now) + LEASE_SECONDS,
                ":one": 1,
                ":most": waiters_allowed(cap),
            },
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def leave(table: Any, subdomain: str, request_id: str) -> None:
    """No longer among the waiters (it got a lease, or gave up)."""
    _remove(table, subdomain, WAITER_PREFIX + request_id, {}, "waiting")


def release(table: Any, lease: Lease, now: float) -> None:
    _remove(table, lease.subdomain, lease.name, {":now": int(now)})


def _remove(
    table: Any, subdomain: str, lease: str, answered: dict[str, int], counter: str = "count"
) -> bool:
    update = "REMOVE #lease ADD #count :minus_one"
    names = {"#lease": lease, "#count": counter}
    if answered:
        update += " SET answeredAt = :now"
    try:
        table.update_item(
            Key=key(subdomain),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(#lease)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":minus_one": -1, **answered},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False  # reaped meanwhile: already counted out
    return True


def _silent(item: dict[str, Any], request_id: str, now: float, streamed: bool = False) -> bool:
    """Leases older than SILENT_AFTER_SECONDS, and no answer since the oldest was taken."""
    own = _lease_name(request_id, streamed)
    taken = [
        _taken(name, expires)
        for name, expires in item.items()
        if name.startswith(LEASE_PREFIX) and name != own
    ]
    if not taken or now - min(taken) < SILENT_AFTER_SECONDS:
        return False
    return int(item.get("answeredAt", 0)) < min(taken)
