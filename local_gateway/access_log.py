"""One line per request or connection event on stderr: what, status, milliseconds.

GET demo.localhost/items?x=1 200 12ms
WS $connect 101 15ms ZXhhbXBsZUlkMTI=
WS $default 200 3ms ZXhhbXBsZUlkMTI=
WS $disconnect 1000 2ms ZXhhbXBsZUlkMTI=
POST /dev/@connections/ZXhhbXBsZUlkMTI= 200 0ms
"""

from __future__ import annotations

import sys
import time


def started() -> float:
    return time.perf_counter()


def line(what: str, status: int | str, since: float, detail: str = "") -> None:
    milliseconds = (time.perf_counter() - since) * 1000
    text = f"{what} {status} {milliseconds:.0f}ms"
    print(f"{text} {detail}" if detail else text, file=sys.stderr, flush=True)


def note(text: str) -> None:
    """A line about the gateway itself (start-up, wiring problems), not about a request."""
    print(f"local gateway: {text}", file=sys.stderr, flush=True)
