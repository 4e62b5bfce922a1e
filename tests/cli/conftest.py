"""The agent's tests are coroutines: each runs in a fresh event loop, with a time limit (no
pytest-asyncio in this venv)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator

import pytest

from tests.cli.harness import LocalApp

TEST_TIMEOUT_SECONDS = 20


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**arguments), TEST_TIMEOUT_SECONDS))
    return True


@pytest.fixture
def app() -> Iterator[LocalApp]:
    """The local service the agent forwards to, for one test."""
    with LocalApp() as local_app:
        yield local_app
