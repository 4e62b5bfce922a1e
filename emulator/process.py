"""Start and stop the emulator as a subprocess (stdlib only: runs in the
project's virtualenv, which has no moto).

    handle = start()  # on a port the emulator's OS picks: handle.port, handle.url
    os.environ.update(client_environment(handle.url))
    ...
    stop(handle)

Ready means: the process we started logged its ready line (with its pid and the port it bound)
and answers ``GET /moto-api/config`` on that port with its own pid (``X-Emulator-Pid``).
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# ``python -m emulator`` logs this once its socket listens: host, the port it bound (the real one
# with --port 0), its pid.
READY_FORMAT = "emulator ready on http://%s:%d (pid %d)"
_READY = re.compile(r"emulator ready on http://[^\s:]+:(?P<port>\d+) \(pid (?P<pid>\d+)\)")
# The emulator's answers under /moto-api/ carry its pid in this header.
PID_HEADER = "X-Emulator-Pid"


@dataclass
class EmulatorProcess:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        # The child writes to the file descriptor itself: nothing to flush here.
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


class NotReady(Exception):
    """The emulator exited, or did not answer in time."""


def emulator_python() -> str:
    """EMULATOR_PYTHON, else the repo's .venv-emulator (moto must not share the
    project venv: sceptre pins jsonschema<3.3, moto's server needs 4)."""
    return os.environ.get("EMULATOR_PYTHON") or str(REPO_ROOT / ".venv-emulator" / "bin" / "python")


def client_environment(url: str, region: str = "us-east-1") -> dict[str, str]:
    """What boto3/botocore (>= 1.31) and Sceptre need to talk to the emulator."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
    }


def ready_port(log_text: str, pid: int) -> int | None:
    """The port in the ready line that process ``pid`` logged in ``log_text``, if any."""
    for match in _READY.finditer(log_text):
        if int(match["pid"]) == pid:
            return int(match["port"])
    return None


def serving_pid(url: str, timeout: float = 2.0) -> int | None:
    """The pid of the emulator answering at ``url``; None if nothing answers there, or something
    that is not this emulator."""
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with no_proxy.open(f"{url}/moto-api/config", timeout=timeout) as response:
            return int(response.headers[PID_HEADER])
    except (OSError, http.client.HTTPException, TypeError, ValueError):
        return None  # refused, reset, timed out, an HTTP error, no or a bad header


def _log_since(log_path: Path, offset: int) -> str:
    with log_path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def wait_until_serving(
    process: subprocess.Popen[bytes], log_path: Path, offset: int, port: int, timeout: float
) -> int:
    """Wait until ``process`` has logged its ready line in ``log_path`` (after ``offset``: what
    earlier runs wrote there does not count) and answers HTTP there as itself; return its port.

    ``port`` is the one it was asked for, 0 for any. NotReady if it exits first or time runs out.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise NotReady(f"exited with code {process.returncode}")
        bound = ready_port(_log_since(log_path, offset), process.pid)
        if (
            bound is not None
            and port in (0, bound)
            and serving_pid(f"http://{HOST}:{bound}") == process.pid
        ):
            return bound
        if time.monotonic() > deadline:
            raise NotReady(f"not answering after {timeout:.0f} s")
        time.sleep(0.1)


def emulator_command(port: int) -> list[str]:
    python = emulator_python()
    if not Path(python).exists():
        raise RuntimeError(
            f"emulator python {python} not found; create it with: python3.11 -m venv "
            f"{REPO_ROOT / '.venv-emulator'} && {REPO_ROOT / '.venv-emulator/bin/pip'} "
            f"install -r {REPO_ROOT / 'emulator/requirements.txt'} (or set EMULATOR_PYTHON)"
        )
    return [python, "-m", "emulator", "--host", HOST, "--port", str(port)]


def start(port: int | None = None, timeout: float = 30.0) -> EmulatorProcess:
    """Launch ``python -m emulator`` and return once it answers (see the module's docstring).

    Without ``port`` the emulator binds one the OS picks (``--port 0``) and says which: no other
    process can take it between choosing and binding.
    """
    requested = port or 0
    command = emulator_command(requested)
    log_file = tempfile.NamedTemporaryFile(prefix="emulator-", suffix=".log", delete=False)
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    handle = EmulatorProcess(requested, process, Path(log_file.name), log_file)
    try:
        handle.port = wait_until_serving(process, handle.log_path, 0, requested, timeout)
    except BaseException as error:  # also Ctrl-C: never leave the child behind
        stop(handle, keep_log=True)
        if not isinstance(error, NotReady):
            raise
        where = f"on port {requested}" if requested else "(on a port of its choice)"
        raise RuntimeError(
            f"emulator {where} {error}; log {handle.log_path}:\n{handle.log_tail()}"
        ) from None
    return handle


class RunningProcess(Protocol):
    """A background process with its log file: the emulator's, or the local gateway's."""

    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


def stop(handle: RunningProcess, timeout: float = 10.0, keep_log: bool = False) -> None:
    """SIGTERM (the server closes its sockets), SIGKILL if it hangs; then remove its log
    unless asked to keep it."""
    if handle.process.poll() is None:
        handle.process.terminate()
        try:
            handle.process.wait(timeout)
        except subprocess.TimeoutExpired:
            handle.process.kill()
            handle.process.wait()
    handle.log_file.close()
    if not keep_log:
        handle.log_path.unlink(missing_ok=True)
