"""``python -m emulator.service start|stop|status``: the emulator as a background service.

For ``make emulator`` and ``make emulator-stop``: idempotent, with a pid file and a log under
``build/emulator/``. Standard library only, so it runs from the project's virtualenv; the
emulator itself runs from its own (``.venv-emulator``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from emulator.process import HOST, REPO_ROOT, emulator_python

STATE = REPO_ROOT / "build" / "emulator"
PID_FILE = STATE / "emulator.pid"
LOG_FILE = STATE / "emulator.log"


def running_pid() -> int | None:
    """The pid in the pid file, if that process is alive."""
    try:
        pid = int(PID_FILE.read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, IndexError, ProcessLookupError, PermissionError):
        return None
    return pid


def start(port: int, timeout: float = 60.0) -> int:
    url = f"http://{HOST}:{port}"
    if running_pid() is not None:
        print(
            f"emulator already running on {PID_FILE.read_text().split()[1]} (pid {running_pid()})"
        )
        return 0
    STATE.mkdir(parents=True, exist_ok=True)
    log = LOG_FILE.open("ab")
    process = subprocess.Popen(
        [emulator_python(), "-m", "emulator", "--host", HOST, "--port", str(port)],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # outlives make
    )
    PID_FILE.write_text(f"{process.pid} {url}\n")
    ready = f"emulator ready on {url}"
    deadline = time.monotonic() + timeout
    while ready not in LOG_FILE.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            PID_FILE.unlink(missing_ok=True)
            tail = "\n".join(LOG_FILE.read_text(errors="replace").splitlines()[-20:])
            print(f"emulator did not start on {url}; log {LOG_FILE}:\n{tail}", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(f"emulator running on {url} (pid {process.pid}, log {LOG_FILE.relative_to(REPO_ROOT)})")
    return 0


def stop() -> int:
    pid = running_pid()
    if pid is None:
        PID_FILE.unlink(missing_ok=True)
        print("emulator not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if running_pid() is None:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    PID_FILE.unlink(missing_ok=True)
    print(f"emulator stopped (pid {pid})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.service", description=__doc__)
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args(argv)
    if args.action == "start":
        return start(args.port)
    if args.action == "stop":
        return stop()
    pid = running_pid()
    print(f"emulator running (pid {pid})" if pid else "emulator not running")
    return 0 if pid else 1


if __name__ == "__main__":
    sys.exit(main())
