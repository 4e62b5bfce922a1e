"""The local stack in each of its two forms, for real apps behind the tunnel (tests/apps and
``make bench``'s benchmarks/apps.py).

- ``path``: dev as ``make local`` launches it, no custom domain: a tunnel is a path of the HTTP
  API's own endpoint, ``http://localhost:<gateway>/<subdomain>``.
- ``host``: dev with ``custom_domain: {domain_name, hosted_zone_id}`` in its config.yaml and the
  hosted zone created in the emulator first, as a developer would: the launch creates the
  certificate, the domain, its mapping and alias, and the local gateway serves a tunnel as
  ``http://<subdomain>.localhost:<gateway>`` (Chromium resolves ``*.localhost`` to loopback).

Each is a copy of the project launched on its own emulator, with its own local gateway.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emulator import process
from local_gateway import testing as gateway_testing
from tests.project_copy import copy_project, emulator_environment
from tests.tunnel.conftest import Tunnel, launch_dev

FORMS = ("path", "host")
DOMAIN_NAME = "tunnel.test"
# Where the custom domain's setting goes, as a developer would write it (the file's own
# commented example sits under the same key).
USER_DATA = "sceptre_user_data:\n"
FORWARDING = r"^Forwarding (\S+) -> "


def enable_custom_domain(root: Path, hosted_zone_id: str) -> None:
    """config/dev/config.yaml of the copy in ``root`` with the custom domain switched on."""
    config = root / "config/dev/config.yaml"
    text = config.read_text()
    assert text.count(USER_DATA) == 1, f"no single {USER_DATA!r} in {config}"
    setting = f"  custom_domain: {{domain_name: {DOMAIN_NAME}, hosted_zone_id: {hosted_zone_id}}}\n"
    config.write_text(text.replace(USER_DATA, USER_DATA + setting))


def create_hosted_zone(tunnel: Tunnel) -> str:
    """A public hosted zone for DOMAIN_NAME in the emulator; its id, without /hostedzone/."""
    zone = tunnel.client("route53").create_hosted_zone(
        Name=f"{DOMAIN_NAME}.", CallerReference=uuid.uuid4().hex
    )
    return zone["HostedZone"]["Id"].rsplit("/", 1)[-1]


@contextmanager
def launched(root: Path, form: str) -> Iterator[Tunnel]:
    """dev launched from a copy of the project in ``root``, in ``form``, with its local gateway.

    The Tunnel's ``app`` is None: each test starts its own app and tells the agent its port.
    """
    assert form in FORMS, form
    copy_project(root)
    emulator = process.start()
    environment = emulator_environment(root, emulator.url)
    gateway = None
    tunnel = Tunnel(root, environment, None, None)  # type: ignore[arg-type]
    try:
        if form == "host":
            enable_custom_domain(root, create_hosted_zone(tunnel))
        launch_dev(root, environment, f" ({form} form)")
        gateway = gateway_testing.start(env=environment)
        tunnel.gateway = gateway
        yield tunnel
    finally:
        for agent in tunnel.agents:
            agent.stop(signal.SIGKILL)
        if gateway is not None:
            gateway_testing.stop(gateway)
        process.stop(emulator)


def public_url(tunnel: Tunnel, subdomain: str, port: int) -> tuple[str, object]:
    """Start ``tunnel http <port>`` for a new token of ``subdomain``; the URL it prints (what
    the browser opens) and the agent."""
    agent = tunnel.agent(tunnel.token(subdomain), port)
    return agent.wait_for(FORWARDING).group(1), agent
