"""What the agent refuses to expose unless told to: an inspector that listens beyond this machine
(it holds the captured cookies and tokens, and replays requests, for anyone who reaches it), and
a ``ws://`` URL to another machine (the token would cross the network unencrypted in the
upgrade's query). Each refusal is one line that says why and how to allow it: ``tunnel http``
and ``tunnel start`` take ``--allow-remote-inspector`` and ``--allow-cleartext``; ``tunnel.yml``
takes ``allow_remote_inspector: true`` and ``allow_cleartext: true``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

REMOTE_INSPECTOR_FLAG = "--allow-remote-inspector"
REMOTE_INSPECTOR_KEY = "allow_remote_inspector"
CLEARTEXT_FLAG = "--allow-cleartext"
CLEARTEXT_KEY = "allow_cleartext"


def is_loopback(name: str) -> bool:
    """Whether a host name or address is this machine: ``localhost`` and ``*.localhost``
    (RFC 6761), ``127.0.0.0/8``, ``::1``."""
    name = name.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def remote_inspector_problem(host: str) -> str | None:
    """Why listening on ``host`` is refused, or None when it is this machine only."""
    if is_loopback(host):
        return None
    where = "any address of this machine" if _unspecified(host) else host
    return (
        f"{host} is not a loopback address: the inspector would serve the captured cookies and "
        f"tokens, and replay requests, to anyone who can reach {where}; pass "
        f"{REMOTE_INSPECTOR_FLAG} (tunnel.yml: {REMOTE_INSPECTOR_KEY}: true) if that is meant"
    )


def cleartext_problem(url: str) -> str | None:
    """Why connecting to ``url`` is refused, or None: ``wss://``, or ``ws://`` to this machine."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "ws" or is_loopback(host):
        return None
    return (
        f"ws:// to {host} would send the token across the network unencrypted; use wss://, or "
        f"pass {CLEARTEXT_FLAG} (tunnel.yml: {CLEARTEXT_KEY}: true) if that is meant"
    )


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False
