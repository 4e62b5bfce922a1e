"""dev launched once with a custom domain (the REST API edge, streamed) and a WAF block, its
local gateway, and a local app of the tests' own (tests/edge/app.py) behind ``tunnel http``
agents."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator import process
from local_gateway import testing as gateway_testing
from tests.apps.launch import USER_DATA, create_hosted_zone, enable_custom_domain
from tests.edge.app import EdgeApp
from tests.project_copy import copy_project, emulator_environment
from tests.tunnel.conftest import Tunnel, launch_dev

# Small limits, so that a test's flood reaches them in a few dozen requests. A 300 s window (not
# 60) keeps every request of a flood in the window on a slow machine, so the counts are exact.
PER_CLIENT = 40
PER_TUNNEL = 60
WINDOW_SECONDS = 300


def enable_waf(root: Path) -> None:
    """config/dev/config.yaml of the copy in ``root`` with the web ACL's rate rules on."""
    config = root / "config/dev/config.yaml"
    text = config.read_text()
    setting = (
        f"  waf: {{per_client: {PER_CLIENT}, per_tunnel: {PER_TUNNEL}, "
        f"window_seconds: {WINDOW_SECONDS}}}\n"
    )
    config.write_text(text.replace(USER_DATA, USER_DATA + setting))


@dataclass
class Edge:
    """The launched stack and the local app every agent here forwards to."""

    tunnel: Tunnel
    app: EdgeApp


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("edge-project")
    copy_project(root)
    emulator = process.start()
    environment = emulator_environment(root, emulator.url)
    tunnel = Tunnel(root, environment, None, None)  # type: ignore[arg-type]
    app = EdgeApp()
    gateway = None
    try:
        enable_custom_domain(root, create_hosted_zone(tunnel))
        enable_waf(root)
        launch_dev(root, environment, " (custom domain and WAF)")
        gateway = gateway_testing.start(env=environment)
        tunnel.gateway = gateway
        app.start()
        yield Edge(tunnel, app)
    finally:
        for agent in tunnel.agents:
            agent.stop(signal.SIGKILL)
        if gateway is not None:
            gateway_testing.stop(gateway)
        app.stop()
        process.stop(emulator)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On a failure, what the gateway and the agents said: the edge is several processes."""
    outcome = yield
    report = outcome.get_result()
    running = item.funcargs.get("edge") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(running, Edge) and running.tunnel.gateway is not None:
        report.sections.append(("local gateway log", running.tunnel.gateway.log_tail(80)))
        for index, agent in enumerate(running.tunnel.agents):
            report.sections.append((f"agent {index}", "\n".join(agent.lines[-30:])))
