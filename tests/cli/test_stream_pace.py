"""The agent sends a streamed body no faster than the edge delivers it (Lambda's streaming
rule: the first STREAM_UNTHROTTLED_BYTES at full speed, then STREAM_THROTTLED_BYTES_PER_SECOND),
so the forwarding container never holds more than a little of it for a slow caller."""

from __future__ import annotations

import pytest
from tunnel_shared.limits import (
    STREAM_BUFFER_BYTES,
    STREAM_THROTTLED_BYTES_PER_SECOND,
    STREAM_UNTHROTTLED_BYTES,
)

from tunnel_cli.agent import pace_seconds

RATE = STREAM_THROTTLED_BYTES_PER_SECOND


def test_the_first_bytes_go_at_once():
    assert pace_seconds(STREAM_UNTHROTTLED_BYTES, 0.0) == 0.0


@pytest.mark.parametrize(("beyond", "elapsed", "wait"), [(RATE, 0.0, 1.0), (RATE, 0.25, 0.75)])
def test_beyond_them_the_edge_rate_holds(beyond, elapsed, wait):
    assert pace_seconds(STREAM_UNTHROTTLED_BYTES + beyond, elapsed) == pytest.approx(wait)


def test_time_already_spent_counts():
    assert pace_seconds(STREAM_UNTHROTTLED_BYTES + RATE, 3.0) == 0.0


def test_what_the_container_holds_for_a_caller_at_the_edge_rate_stays_under_its_buffer():
    """A caller read at exactly the edge's rule lags the agent by no more than the unthrottled
    part: under what forwarding holds before it breaks a stream off."""
    assert STREAM_UNTHROTTLED_BYTES < STREAM_BUFFER_BYTES
