"""The test handlers record every invocation as one JSON line; the tests read them back.

The handlers run in the gateway's worker processes, one per function (cwd = the repository, so
``tests`` is importable); ``GATEWAY_TEST_RECORDS`` names the folder, one ``<function>.jsonl`` per
function, and the gateway passes it to every function (``LOCAL_GATEWAY_PASS_ENV``). Several
processes append to one file: each line is one ``write`` on an ``O_APPEND`` descriptor, and a
reader skips a last line that has no newline yet (a write in progress).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RECORDS = "GATEWAY_TEST_RECORDS"
# Settings some functions are deployed with, recorded (None: absent) to prove who gets what.
ENVIRONMENT_KEYS = ("CONNECTIONS_ENDPOINT", "PUBLIC_URL_FORMAT", "CONNECTIONS_TABLE", "ENVIRONMENT")


def record(function: str, event: Any, context: Any = None, **extra: Any) -> None:
    entry = {"function": function, "event": event, **extra}
    if context is not None:
        entry["context"] = {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        }
        entry["environment"] = {key: os.environ.get(key) for key in ENVIRONMENT_KEYS}
        entry["environment_names"] = sorted(os.environ)  # every name, no value: what leaked in
    line = (json.dumps(entry) + "\n").encode()
    path = Path(os.environ[RECORDS]) / f"{function}.jsonl"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # One write of the whole line: appends from other threads and processes cannot split it.
        written = os.write(descriptor, line)
    finally:
        os.close(descriptor)
    assert written == len(line), f"short write to {path}"


class Records:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def all(self, function: str) -> list[dict[str, Any]]:
        path = self.folder / f"{function}.jsonl"
        if not path.exists():
            return []
        # Up to the last newline: anything after it is a line still being written.
        complete, _, _ = path.read_bytes().rpartition(b"\n")
        return [json.loads(line) for line in complete.split(b"\n") if line]

    def matching(
        self, function: str, predicate: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        return [entry for entry in self.all(function) if predicate(entry)]

    def wait_for(
        self,
        function: str,
        predicate: Callable[[dict[str, Any]], bool],
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[dict[str, Any]]:
        """At least ``count`` matching records, waiting for the gateway to write them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.matching(function, predicate)
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, f"{len(found)} {function} records, wanted {count}"
                return found
            time.sleep(0.05)
