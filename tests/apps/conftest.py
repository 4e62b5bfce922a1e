"""Real apps (Django's admin, Vite's dev server) behind the whole local tunnel, in headless
Chromium, through the URL the agent prints: one launched stack per form (tests/apps/launch.py)
for every test here, each test with its own agent, app and cookies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.apps import servers
from tests.apps.launch import FORMS, launched, public_url
from tests.browser.conftest import driver  # noqa: F401 (a fixture)
from tests.tunnel.conftest import Agent, Tunnel


@pytest.fixture(scope="package", params=FORMS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tunnel]:
    """dev launched in one form (path, then host), shared by every test of tests/apps."""
    with launched(tmp_path_factory.mktemp(f"apps-{request.param}-form"), request.param) as running:
        yield running


@pytest.fixture
def browser(driver):  # noqa: F811
    """The session's Chromium with no cookies and no cache from earlier tests."""
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    return driver


@dataclass
class Served:
    """An app behind the tunnel: the URL the agent printed, its agent, the app's process."""

    url: str
    agent: Agent
    app: servers.AppProcess


@pytest.fixture
def django_site(stack: Tunnel, tmp_path: Path) -> Iterator[Served]:
    port = servers.free_port()
    url, agent = public_url(stack, "django", port)
    app = servers.start_django(servers.django_project(tmp_path, url), port)
    try:
        yield Served(url, agent, app)
    finally:
        agent.stop()
        app.stop()


@pytest.fixture
def vite_app(stack: Tunnel) -> Iterator[Served]:
    port = servers.free_port()
    url, agent = public_url(stack, "vite", port)
    app = servers.start_vite(url, port)
    try:
        yield Served(url, agent, app)
    finally:
        agent.stop()
        app.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On a failure, what the gateway, the agent and the app said (several processes)."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or not hasattr(item, "funcargs"):
        return
    running = item.funcargs.get("stack")
    if isinstance(running, Tunnel) and running.gateway is not None:
        report.sections.append(("local gateway log", running.gateway.log_tail(60)))
    for name in ("django_site", "vite_app"):
        served = item.funcargs.get(name)
        if isinstance(served, Served):
            report.sections.append(("agent", "\n".join(served.agent.lines[-30:])))
            report.sections.append((served.app.name, "\n".join(served.app.lines[-40:])))
