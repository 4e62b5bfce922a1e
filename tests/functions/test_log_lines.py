"""One invocation, one line: log lines written from many threads at once (a local worker runs
invocations side by side, with unbuffered output) stay whole, each one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
WRITER = """
import threading
from tunnel_shared.log import Invocation

def run(n):
    for i in range(300):
        with Invocation("forwarding") as log:
            log.note(thread=n, i=i, padding="x" * 200)

threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_lines_written_side_by_side_stay_whole() -> None:
    out = subprocess.run(
        [sys.executable, "-u", "-c", WRITER],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(FUNCTIONS)},
        timeout=60,
    ).stdout
    lines = out.splitlines()
    assert len(lines) == 8 * 300
    parsed = [json.loads(line) for line in lines]
    assert {(line["thread"], line["i"]) for line in parsed} == {
        (n, i) for n in range(8) for i in range(300)
    }
