"""A gateway that does not get to serve leaves nothing behind: no ``local-gateway-code-*``
folder (the functions' unpacked code) in the temporary directory, whether the port is taken,
the environment is not deployed, or Ctrl-C comes while it starts."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from local_gateway.testing import REPO_ROOT


def gateway_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "local_gateway", *args]


def test_a_gateway_that_cannot_bind_leaves_no_temporary_folder(launched, tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        # A given port is bound after the code is fetched and the workers started.
        result = subprocess.run(
            gateway_command("--port", str(port)),
            cwd=REPO_ROOT,
            env={**launched.environment, "TMPDIR": str(temporary)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1, result.stderr
    assert "fetched and started" in result.stderr  # it got that far
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"local gateway: cannot serve on http://127.0.0.1:{port}: "), last
    assert "Traceback" not in result.stderr
    assert list(temporary.iterdir()) == []


def test_an_environment_that_is_not_deployed_leaves_no_temporary_folder(launched, tmp_path):
    result = subprocess.run(
        gateway_command("--environment", "staging", "--port", "0"),
        cwd=REPO_ROOT,
        env={**launched.environment, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert list(tmp_path.iterdir()) == []


def _code_folder(temporary: Path, process: subprocess.Popen[str], seconds: float) -> Path:
    """The gateway's code folder, once it has made it (it fetches the code right after)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        made = list(temporary.glob("local-gateway-code-*"))
        if made:
            return made[0]
        time.sleep(0.005)
    raise AssertionError(f"no code folder appeared in {temporary}")


def test_ctrl_c_while_starting_leaves_no_temporary_folder(launched, tmp_path):
    process = subprocess.Popen(
        gateway_command("--port", "0"),
        cwd=REPO_ROOT,
        env={**launched.environment, "TMPDIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _code_folder(tmp_path, process, 60)
        process.send_signal(signal.SIGINT)  # while it fetches the code and starts the workers
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in stderr, stderr
    assert list(tmp_path.iterdir()) == [], stderr
