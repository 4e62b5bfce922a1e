"""The whole tunnel on one machine: emulator, launched dev, local gateway, a local app, and the
`tunnel` agent as a subprocess, as a developer would run them."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest

from emulator import process
from local_gateway import testing as gateway_testing
from tests.project_copy import copy_project, emulator_environment
from tests.tunnel.local_app import LocalApp

TUNNEL = Path(sys.executable).parent / "tunnel"
SCEPTRE = Path(sys.executable).parent / "sceptre"


def launch_dev(root: Path, environment: dict[str, str], what: str = "") -> None:
    """``sceptre launch -y dev`` in the project copy at ``root``; RuntimeError with its output."""
    launched = subprocess.run(
        [str(SCEPTRE), "--no-colour", "launch", "-y", "dev"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if launched.returncode != 0:
        raise RuntimeError(f"sceptre launch dev{what} failed:\n{launched.stdout}{launched.stderr}")


FORWARDING = re.compile(r"^Forwarding (\S+) -> (\S+)$", re.MULTILINE)


@dataclass
class Agent:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exited = self.process.poll() is not None
            if exited and self.reader is not None:
                self.reader.join(5)  # what it printed before exiting is read to the end first
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            if exited:
                break
            time.sleep(0.05)
        raise AssertionError(f"agent never printed {pattern!r}; output: {self.lines}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=10)


@dataclass
class Tunnel:
    root: Path
    environment: dict[str, str]
    gateway: gateway_testing.GatewayProcess
    app: LocalApp
    agents: list[Agent] = field(default_factory=list)

    def client(self, service: str):  # noqa: ANN201
        return boto3.client(
            service,
            endpoint_url=self.environment["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*args],
            cwd=self.root,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def token(self, subdomain: str, subject: str = "tester") -> str:
        issued = self.run(
            str(TUNNEL), "token", "--subdomain", subdomain, "--subject", subject, "--ttl", "1h"
        )
        assert issued.returncode == 0, issued.stderr
        return issued.stdout.strip().splitlines()[-1]

    def agent(self, token: str, port: int | None = None, *options: str) -> Agent:
        """``tunnel http PORT`` for ``token`` (the inspector off unless ``options`` say)."""
        arguments = ["http", str(port or self.app.port), "--url", self.gateway.websocket_url]
        inspect = list(options) or ["--no-inspect"]
        return self.spawn(*arguments, "--token", token, *inspect)

    def spawn(self, *arguments: str, environment: dict[str, str] | None = None) -> Agent:
        """``tunnel ARGUMENTS...`` as a subprocess, its output read as it comes."""
        started = subprocess.Popen(
            [str(TUNNEL), *arguments],
            cwd=self.root,
            env={
                **self.environment,
                "TUNNEL_BACKOFF_INITIAL_SECONDS": "0.2",
                **(environment or {}),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        agent = Agent(started)
        self.agents.append(agent)
        return agent

    def request(
        self,
        subdomain: str,
        method: str = "GET",
        target: str = "/",
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        timeout: float = 40,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """A public request, sent with http.client so repeated headers stay repeated."""
        connection = http.client.HTTPConnection("127.0.0.1", self.gateway.port, timeout=timeout)
        # The public URL the agent was told, plus the local service's target.
        public_target = self.gateway.target(subdomain, target)
        connection.putrequest(method, public_target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", self.gateway.host(subdomain))
        for name, value in headers or []:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, response.getheaders(), data


@contextmanager
def running_tunnel(root: Path) -> Iterator[Tunnel]:
    """Launch dev from a copy of the project in ``root`` and run the local gateway for it.

    The tests' fixture and ``make bench`` share it.
    """
    copy_project(root)
    emulator = process.start()
    environment = emulator_environment(root, emulator.url)
    app = LocalApp()
    gateway = None
    tunnel = None
    try:
        launch_dev(root, environment)
        gateway = gateway_testing.start(env=environment)
        tunnel = Tunnel(root, environment, gateway, app)
        yield tunnel
    finally:
        for agent in tunnel.agents if tunnel else []:
            agent.stop(signal.SIGKILL)
        if gateway is not None:
            gateway_testing.stop(gateway)
        app.stop()
        process.stop(emulator)


@pytest.fixture(scope="module")
def tunnel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tunnel]:
    with running_tunnel(tmp_path_factory.mktemp("tunnel-project")) as running:
        yield running


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On a failure, show what the gateway and the agents said: the tunnel is several processes."""
    outcome = yield
    report = outcome.get_result()
    running = (
        item.funcargs.get("demo") or item.funcargs.get("tunnel")
        if hasattr(item, "funcargs")
        else None
    )
    if report.failed and isinstance(running, Tunnel):
        report.sections.append(("local gateway log", running.gateway.log_tail(60)))
        for index, agent in enumerate(running.agents):
            report.sections.append((f"agent {index}", "\n".join(agent.lines[-20:])))
