"""One JSON line per invocation: what happened, never bodies, tokens or secrets."""

from __future__ import annotations

import json
import sys
import time
from types import TracebackType
from typing import Any


class Invocation:
    """Collects fields during an invocation and prints them as one line when it ends.

    An exception escaping the ``with`` block is recorded by type only (its message may hold
    request data) and re-raised; handlers catch what they can answer before that.
    """

    def __init__(self, function: str, context: object = None) -> None:
        self._started = time.perf_counter()
        self.fields: dict[str, Any] = {
            "function": function,
            "awsRequestId": getattr(context, "aws_request_id", None),
        }

    def __enter__(self) -> Invocation:
        return self

    def note(self, **fields: Any) -> None:
        self.fields.update(fields)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.fields.setdefault("outcome", "error")
            self.fields["error"] = kind.__name__
        self.fields["ms"] = round((time.perf_counter() - self._started) * 1000, 1)
        # One write of the line and its newline: print() writes them apart when stdout is
        # unbuffered, and invocations on other threads would then merge two lines into one
        # (which CloudWatch reads as no JSON, its embedded metrics lost).
        sys.stdout.write(json.dumps(self.fields, default=str, sort_keys=True) + "\n")
        sys.stdout.flush()
