"""Running tunnels: one ``Agent`` per tunnel, all in one event loop, sharing one inspector.

``tunnel http`` runs one; ``tunnel start`` runs the ones ``tunnel.yml`` names. Each tunnel has
its own connection, session secret and token, so one tunnel refused, closed or expired ends
that tunnel only: the others keep serving, and the run returns 1 when they have all ended (0
if every one was stopped by Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tunnel_cli.agent import Agent, AgentSettings, token_expiry
from tunnel_cli.terminal import printable

DEFAULT_INSPECT_HOST = "127.0.0.1"
DEFAULT_INSPECT_PORT = 4040


@dataclass(frozen=True)
class InspectAt:
    """Where the inspector listens; ``chosen`` when the user named the address (then a busy
    port is an error, not a reason to try the next one)."""

    host: str = DEFAULT_INSPECT_HOST
    port: int = DEFAULT_INSPECT_PORT
    chosen: bool = False


@dataclass(frozen=True)
class Tunnel:
    name: str
    settings: AgentSettings


def run(tunnels: Sequence[Tunnel], inspect: InspectAt | None) -> int:
    """Serve ``tunnels`` until stopped or ended; the exit code (see the module docstring)."""
    if all(_expired(t.settings.token) for t in tunnels):
        inspect = None  # each agent says so and ends at once: nothing to inspect
    if inspect is None:
        return asyncio.run(_serve([Agent(t.settings) for t in tunnels]))
    # Imported only when it runs: `--no-inspect` costs nothing.
    from tunnel_cli.inspector.server import Inspector, InspectorError, TunnelView
    from tunnel_cli.inspector.traffic import Traffic

    traffic = Traffic()
    views = [
        TunnelView(t.name, t.settings.local_host, t.settings.port, t.settings.local_timeout)
        for t in tunnels
    ]
    inspector = Inspector(traffic, lambda: views)
    try:
        address = inspector.start(inspect.host, inspect.port, next_free=not inspect.chosen)
    except InspectorError as error:
        if inspect.chosen:
            print(printable(f"tunnel: error: {error}"), file=sys.stderr, flush=True)
            return 2
        print(printable(f"tunnel: the inspector is off: {error}"), file=sys.stderr, flush=True)
        return asyncio.run(_serve([Agent(t.settings) for t in tunnels]))
    # ngrok's words, which scripts and people look for.
    print(f"Web Interface {address}", flush=True)
    agents = [
        Agent(t.settings, traffic=traffic, view=view)
        for t, view in zip(tunnels, views, strict=True)
    ]
    try:
        return asyncio.run(_serve(agents))
    finally:
        inspector.close()


def _expired(token: str) -> bool:
    expires = token_expiry(token)
    return expires is not None and expires <= time.time()


async def _serve(agents: Sequence[Agent]) -> int:
    loop = asyncio.get_running_loop()

    def stop_all() -> None:
        for agent in agents:
            agent.stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_all)
    try:
        codes = await asyncio.gather(*(agent.run() for agent in agents))
        return max(codes, default=0)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
