"""Start and stop the emulator as a subprocess (stdlib only: runs in the
project's virtualenv, which has no moto).

    handle = start(free_port())
    os.environ.update(client_environment(handle.url))
    ...
    stop(handle)
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


@dataclass
class EmulatorProcess:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def log_tail(self, lines: int = 40) -> str:
        # The child writes to the file descriptor itself: nothing to flush here.
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A loopback port free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


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


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def _logged_ready(handle: EmulatorProcess) -> bool:
    return f"emulator ready on {handle.url}" in handle.log_path.read_text(errors="replace")


def start(port: int | None = None, timeout: float = 30.0) -> EmulatorProcess:
    """Launch ``python -m emulator`` and return once it has logged its ready line
    and its port accepts connections (it binds only after moto and the providers
    are loaded)."""
    port = port or free_port()
    python = emulator_python()
    if not Path(python).exists():
        raise RuntimeError(
            f"emulator python {python} not found; create it with: python3.11 -m venv "
            f"{REPO_ROOT / '.venv-emulator'} && {REPO_ROOT / '.venv-emulator/bin/pip'} "
            f"install -r {REPO_ROOT / 'emulator/requirements.txt'} (or set EMULATOR_PYTHON)"
        )
    log_file = tempfile.NamedTemporaryFile(prefix=f"emulator-{port}-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [python, "-m", "emulator", "--host", HOST, "--port", str(port)],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    handle = EmulatorProcess(f"http://{HOST}:{port}", port, process, Path(log_file.name), log_file)
    deadline = time.monotonic() + timeout
    # The log line proves it is OUR process that bound the port.
    while not (_logged_ready(handle) and _accepts_connections(port)):
        if process.poll() is not None or time.monotonic() > deadline:
            reason = (
                f"exited with code {process.returncode}"
                if process.returncode is not None
                else f"not accepting connections after {timeout:.0f} s"
            )
            stop(handle, keep_log=True)
            raise RuntimeError(
                f"emulator on port {port} {reason}; log {handle.log_path}:\n{handle.log_tail()}"
            )
        time.sleep(0.1)
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
