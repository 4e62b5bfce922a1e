"""Starting the emulator is done only once the started process itself answers.

``make emulator`` (``emulator.service``) runs here with its state in a temporary directory
(EMULATOR_STATE_DIR), as make runs it; ``emulator.process`` as the tests' fixtures use it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from emulator import process

REPO_ROOT = Path(__file__).resolve().parents[2]
# One attempt: botocore's retries would wait for a server that is not listening yet.
ONCE = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2)


def caller_identity(url: str) -> dict:
    return boto3.client(
        "sts",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=ONCE,
    ).get_caller_identity()


def bindable(port: int) -> bool:
    """Whether an emulator could bind port now (werkzeug sets SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Service:
    def __init__(self, state: Path) -> None:
        self.state = state

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "emulator.service", *args],
            cwd=REPO_ROOT,
            env={**os.environ, "EMULATOR_STATE_DIR": str(self.state)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    @property
    def pid_file(self) -> Path:
        return self.state / "emulator.pid"

    @property
    def log(self) -> Path:
        return self.state / "emulator.log"

    def recorded(self) -> tuple[int, str]:
        pid, url = self.pid_file.read_text().split()
        return int(pid), url


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path / "state")
    try:
        yield running
    finally:
        running.run("stop")


def test_a_restart_returns_only_once_the_new_emulator_answers(service):
    first = service.run("start", "--port", "0")
    assert first.returncode == 0, first.stdout + first.stderr
    first_pid, url = service.recorded()
    port = int(url.rsplit(":", 1)[1])
    assert port != 0 and f"running on {url} (pid {first_pid}" in first.stdout
    assert caller_identity(url)["Account"]

    stopped = service.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not service.pid_file.exists()
    assert process.serving_pid(url) is None
    assert bindable(port), "stop returned before the port was released"

    # The log keeps the first run's ready line for this very port.
    assert f"emulator ready on {url} (pid {first_pid})" in service.log.read_text()
    again = service.run("start", "--port", str(port))  # the port just released
    assert again.returncode == 0, again.stdout + again.stderr
    second_pid, second_url = service.recorded()
    assert (second_url, second_pid != first_pid) == (url, True)
    assert caller_identity(url)["Account"]  # at once: no retry, no wait
    assert process.serving_pid(url) == second_pid


def test_an_old_ready_line_and_another_emulator_on_the_port_do_not_count(service):
    other = process.start()
    try:
        service.state.mkdir(parents=True)
        service.log.write_text(f"emulator ready on {other.url} (pid {other.process.pid})\n")
        started = service.run("start", "--port", str(other.port))
        # Our emulator cannot bind a port that is taken: the one answering there is not it.
        assert started.returncode == 1, started.stdout
        assert "did not start" in started.stderr and "exited with code" in started.stderr
        assert not service.pid_file.exists()
        assert process.serving_pid(other.url) == other.process.pid  # left alone
    finally:
        process.stop(other)


def test_a_stale_pid_file_is_replaced_and_its_pid_never_signalled(service):
    bystander = subprocess.Popen(["sleep", "120"])  # holds a pid the file names
    try:
        service.state.mkdir(parents=True)
        service.pid_file.write_text(f"{bystander.pid} http://127.0.0.1:1\n")
        assert service.run("status").returncode == 1

        started = service.run("start", "--port", "0")
        assert started.returncode == 0, started.stdout + started.stderr
        assert "already running" not in started.stdout
        pid, url = service.recorded()
        assert pid != bystander.pid
        assert caller_identity(url)["Account"]
        assert service.run("status").returncode == 0

        assert service.run("stop").returncode == 0
        assert process.serving_pid(url) is None

        service.pid_file.write_text(f"{bystander.pid} {url}\n")
        stopped = service.run("stop")
        assert (stopped.returncode, stopped.stdout.strip()) == (0, "emulator not running")
        assert bystander.poll() is None, "stop signalled a process that is not the emulator"
        assert not service.pid_file.exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_a_dead_pid_in_the_pid_file_is_not_running(service):
    dead = subprocess.Popen(["true"])
    dead.wait()
    service.state.mkdir(parents=True)
    service.pid_file.write_text(f"{dead.pid} http://127.0.0.1:1\n")
    started = service.run("start", "--port", "0")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "already running" not in started.stdout
    assert caller_identity(service.recorded()[1])["Account"]


def test_port_zero_binds_a_port_of_the_emulators_choice_and_names_it():
    handle = process.start()
    try:
        assert handle.process.args[-2:] == ["--port", "0"]
        assert handle.port != 0
        log = handle.log_path.read_text()
        assert f"emulator ready on {handle.url} (pid {handle.process.pid})" in log
        assert process.serving_pid(handle.url) == handle.process.pid
        assert caller_identity(handle.url)["Account"]
    finally:
        process.stop(handle)
    assert process.serving_pid(handle.url) is None


def test_two_running_emulators_have_their_own_ports():
    first, second = process.start(), process.start()
    try:
        assert first.port != second.port
        assert process.serving_pid(first.url) == first.process.pid
        assert process.serving_pid(second.url) == second.process.pid
    finally:
        process.stop(first)
        process.stop(second)
