"""The local stack's ports, and the make commands that reach it, as the tools print them.

The Makefile owns the ports (``EMULATOR_PORT``, ``GATEWAY_PORT``) and passes them to every local
target; the tools only need to say the right command back. A hint names a port only when it is
not the default, so that it works as printed in a fresh shell on any ports
(``tests/test_local_stack.py`` checks these defaults against the Makefile's).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

EMULATOR_PORT = 4566
GATEWAY_PORT = 4567


def emulator_port(environ: Mapping[str, str] | None = None) -> int | None:
    """The port of the local emulator that AWS_ENDPOINT_URL names; None when it names AWS."""
    url = (os.environ if environ is None else environ).get("AWS_ENDPOINT_URL", "")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
        return parts.port if local and parts.port else None
    except ValueError:
        return None


def is_local(environ: Mapping[str, str] | None = None) -> bool:
    return emulator_port(environ) is not None


def make_command(target: str, environ: Mapping[str, str] | None = None, **settings: str) -> str:
    """``make <target>`` with the settings given and the emulator's port where not the default."""
    port = emulator_port(environ)
    words = ["make", target, *(f"{key}={value}" for key, value in settings.items())]
    if port is not None and port != EMULATOR_PORT:
        words.append(f"EMULATOR_PORT={port}")
    return " ".join(words)
