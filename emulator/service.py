"""``python -m emulator.service start|stop|status|check``: the emulator as a background service.

For ``make emulator`` and ``make emulator-stop``: idempotent, with a pid file and a log under
``build/emulator/`` (``EMULATOR_STATE_DIR`` overrides it). Standard library only, so it runs from
the project's virtualenv; the emulator itself runs from its own (``.venv-emulator``).

The pid file names a process and its URL; that emulator is running only while that very process
answers there (``emulator.process.serving_pid``). A pid file left by a process that died, or whose
pid now belongs to another process, is stale: start replaces it, stop removes it and signals
nobody. ``start`` returns once the process it started answers (the log's earlier runs do not
count), ``stop`` once the process has exited and its port is free again.

One emulator per checkout: ``start --port X`` while it runs on another port, and ``check --port
X`` (what every make target that uses the local stack runs first) where none of its own answers,
stop with one line before anything else happens, rather than talking to whatever is on X.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emulator.process import (
    HOST,
    REPO_ROOT,
    NotReady,
    emulator_command,
    serving_pid,
    wait_until_serving,
)


def state_dir() -> Path:
    """Where the pid file and the log are: EMULATOR_STATE_DIR, else build/emulator/."""
    return Path(os.environ.get("EMULATOR_STATE_DIR") or REPO_ROOT / "build" / "emulator")


@dataclass(frozen=True)
class PidFile:
    pid: int
    url: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def _pid_path(state: Path) -> Path:
    return state / "emulator.pid"


def _log_path(state: Path) -> Path:
    return state / "emulator.log"


def recorded(state: Path | None = None) -> PidFile | None:
    """What the pid file says, whether or not that process still runs."""
    try:
        pid, url = _pid_path(state or state_dir()).read_text().split()[:2]
        return PidFile(int(pid), url)
    except (FileNotFoundError, ValueError):
        return None


def running(state: Path | None = None) -> PidFile | None:
    """The pid file's emulator, if that process answers at its URL."""
    entry = recorded(state)
    if entry is not None and serving_pid(entry.url) == entry.pid:
        return entry
    return None


def _alive(pid: int) -> bool:
    """Whether pid is a process that has not exited (a zombie has)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # our own child (tests): reaped just now
    except ChildProcessError:
        pass  # not our child: its parent (init) reaps it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = _ps(pid, "stat")
    return not state.startswith("Z")


def _ps(pid: int, field: str) -> str:
    """One ``ps`` field of a process ('' if there is no such process)."""
    result = subprocess.run(
        ["ps", "-o", f"{field}=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def _is_emulator(pid: int) -> bool:
    """Whether pid runs ``python -m emulator`` (one that does not answer: hung, or starting)."""
    return _alive(pid) and " -m emulator " in f" {_ps(pid, 'args')} "


def _port_free(port: int) -> bool:
    """Whether the emulator could bind port now (werkzeug binds with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _wait(condition_met: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition_met():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def start(port: int, timeout: float = 60.0, state: Path | None = None) -> int:
    """Start the emulator on port (0: one the OS picks) unless it runs; 0 once it answers."""
    state = state or state_dir()
    pid_path, log_path = _pid_path(state), _log_path(state)
    entry = running(state)
    if entry is not None and port not in (0, entry.port):
        print(_elsewhere(entry, port), file=sys.stderr)
        return 1
    if entry is not None:
        print(f"emulator already running on {entry.url} (pid {entry.pid})")
        return 0
    stale = recorded(state)
    if stale is not None and _is_emulator(stale.pid):
        print(
            f"emulator pid {stale.pid} (in {pid_path}) does not answer on {stale.url}; "
            "stop it with make emulator-stop",
            file=sys.stderr,
        )
        return 1
    pid_path.unlink(missing_ok=True)  # stale: that process died, or the pid is another's now
    state.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        offset = log.tell()  # what earlier runs logged is not this run's ready line
        process = subprocess.Popen(
            emulator_command(port),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # outlives make
        )
    # Written at once, so that emulator-stop finds a process that is still starting.
    pid_path.write_text(f"{process.pid} http://{HOST}:{port}\n")
    try:
        bound = wait_until_serving(process, log_path, offset, port, timeout)
    except BaseException as error:  # also Ctrl-C: never leave a half-started emulator behind
        _terminate(process)
        pid_path.unlink(missing_ok=True)
        if not isinstance(error, NotReady):
            raise
        this_run = log_path.read_bytes()[offset:].decode(errors="replace")
        tail = "\n".join(this_run.splitlines()[-20:])
        print(
            f"emulator did not start on port {port}: {error}; log {log_path}:\n{tail}",
            file=sys.stderr,
        )
        return 1
    url = f"http://{HOST}:{bound}"
    pid_path.write_text(f"{process.pid} {url}\n")
    print(f"emulator running on {url} (pid {process.pid}, log {_shown(log_path)})")
    return 0


def _terminate(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _elsewhere(entry: PidFile, port: int) -> str:
    """Why a command aimed at ``port`` must not go on: this checkout's emulator is on another."""
    return (
        f"this checkout's emulator runs on port {entry.port} (pid {entry.pid}), not on "
        f"EMULATOR_PORT={port}: give EMULATOR_PORT={entry.port}, or make emulator-stop first"
    )


def check(port: int, state: Path | None = None) -> int:
    """0 if this checkout's emulator answers on port; else one line saying what runs where."""
    entry = running(state or state_dir())
    if entry is not None and entry.port == port:
        return 0
    if entry is not None:
        print(_elsewhere(entry, port), file=sys.stderr)
    else:
        print(
            f"no emulator of this checkout runs on port {port}: make local EMULATOR_PORT={port} "
            "starts one and launches dev",
            file=sys.stderr,
        )
    return 1


def stop(timeout: float = 10.0, state: Path | None = None) -> int:
    """Stop the pid file's emulator; 0 once it has exited and its port is free."""
    state = state or state_dir()
    pid_path = _pid_path(state)
    entry = recorded(state)
    if entry is None or (serving_pid(entry.url) != entry.pid and not _is_emulator(entry.pid)):
        # Never signal a pid that is no longer the emulator's: it may be anyone's now.
        pid_path.unlink(missing_ok=True)
        print("emulator not running")
        return 0
    try:
        os.kill(entry.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if not _wait(lambda: not _alive(entry.pid), timeout):
        os.kill(entry.pid, signal.SIGKILL)
        _wait(lambda: not _alive(entry.pid), timeout)
    pid_path.unlink(missing_ok=True)
    if not _wait(lambda: _port_free(entry.port), timeout):
        print(
            f"emulator stopped (pid {entry.pid}), but port {entry.port} is still taken",
            file=sys.stderr,
        )
        return 1
    print(f"emulator stopped (pid {entry.pid})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.service", description=__doc__)
    parser.add_argument("action", choices=("start", "stop", "status", "check"))
    parser.add_argument("--port", type=int, default=4566, help="0: a port the OS picks")
    args = parser.parse_args(argv)
    if args.action == "start":
        return start(args.port)
    if args.action == "stop":
        return stop()
    if args.action == "check":
        return check(args.port)
    entry = running()
    print(f"emulator running on {entry.url} (pid {entry.pid})" if entry else "emulator not running")
    return 0 if entry else 1


if __name__ == "__main__":
    sys.exit(main())
