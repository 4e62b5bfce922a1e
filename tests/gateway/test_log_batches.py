"""The local gateway's PutLogEvents batches keep CloudWatch Logs' limits (tunnel_shared.limits)."""

from __future__ import annotations

from local_gateway.lambda_logs import batches
from local_gateway.lambda_runtime import LOG_LIMITS


def test_batches_are_chronological_and_within_the_byte_and_event_limits():
    limits = LOG_LIMITS
    big = "x" * (limits.event_bytes * 2)  # cut to the largest event
    events = [(1000 + (i * 7919) % 20_000, f"line {i}") for i in range(25_000)]
    events += [(5, big)] * 8
    sent = list(batches(events, limits))
    assert sum(len(b) for b in sent) == len(events)
    stamps = [e["timestamp"] for b in sent for e in b]
    assert stamps == sorted(stamps)
    for batch in sent:
        assert len(batch) <= limits.batch_events
        size = sum(len(e["message"].encode()) + limits.event_overhead_bytes for e in batch)
        assert size <= limits.batch_bytes
        assert all(
            len(e["message"].encode()) + limits.event_overhead_bytes <= limits.event_bytes
            for e in batch
        )
