"""What API Gateway stamps on each request: its ids and its clock, in AWS's formats."""

from __future__ import annotations

import base64
import os
import time
from datetime import UTC, datetime


def aws_id() -> str:
    """A connection, request or message id shaped like API Gateway's (``GiIcjezBoAMCKWg=``)."""
    # 11 random bytes -> 16 base64url characters ending in one '=', as AWS's ids look.
    return base64.urlsafe_b64encode(os.urandom(11)).decode()


def trace_id(epoch_seconds: float | None = None) -> str:
    """An X-Ray root id, as API Gateway adds in ``X-Amzn-Trace-Id``."""
    seconds = int(time.time() if epoch_seconds is None else epoch_seconds)
    return f"Root=1-{seconds:08x}-{os.urandom(12).hex()}"


def epoch_ms() -> int:
    return int(time.time() * 1000)


def request_time(epoch_millis: int) -> str:
    """``19/Jan/2023:21:13:26 +0000``: requestTime (WebSocket) and time (HTTP API)."""
    moment = datetime.fromtimestamp(epoch_millis / 1000, UTC)
    # %b is locale-dependent; API Gateway always writes English month names.
    month = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()[moment.month - 1]
    return f"{moment.day:02d}/{month}/{moment:%Y:%H:%M:%S} +0000"


def iso8601(epoch_millis: int) -> str:
    """``2026-11-22T04:00:00.000Z``: the management API's connectedAt and lastActiveAt."""
    moment = datetime.fromtimestamp(epoch_millis / 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{epoch_millis % 1000:03d}Z"
