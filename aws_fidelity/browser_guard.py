"""Web pages may not talk to the local stack: the emulator, and the local gateway's own control
paths (its WebSocket handshake and ``@connections``).

Not AWS behaviour, so not a rule: the local stack's own safety. Its credentials are public
(``testing``) and moto's server answered CORS for any ``Origin``, so a page on another origin,
open in the developer's browser while ``make local`` ran, could read the signing secret from
Secrets Manager, upload a zip and point a function at it, and the local gateway ran that code.
Kept here, beside the rules, because the emulator and the local gateway both import
``aws_fidelity`` and neither imports the other.

- **Origin, Sec-Fetch-***: boto3, the AWS CLI, Sceptre and the agent (``websockets``, which
  sends no Origin unless told to) never send them. Browsers send ``Origin`` on every
  cross-origin ``fetch`` and XHR, their CORS preflights, every POST and every WebSocket
  handshake, and ``Sec-Fetch-Site``/``-Mode``/``-Dest`` on every request to a potentially
  trustworthy URL, which loopback is. A request with either is refused, whatever its origin.
- **Host**: a loopback name or address only (``localhost``, ``*.localhost``, ``127.0.0.0/8``,
  ``[::1]``). A page whose own name an attacker rebinds to 127.0.0.1 (DNS rebinding) sends that
  name as Host, and sends no Sec-Fetch-* (its URL is not potentially trustworthy).

Prior art: LocalStack checks ``Origin`` against an allowlist for the same reason
(``is_cors_origin_allowed``, localstack/localstack ``localstack/aws/handlers/cors.py``: "Blocked
CORS request from forbidden origin"), where moto's server allows every origin
(``flask_cors.CORS(backend_app)`` in ``moto/moto_server/werkzeug_app.py``); the tunnel's request
inspector guards its own API the same way (``tunnel_cli/inspector/guard.py``). Sources for the
browsers' side: Fetch Standard, "Origin header" and "CORS-preflight request",
https://fetch.spec.whatwg.org/; "Fetch Metadata Request Headers" (sent to potentially
trustworthy URLs only), https://www.w3.org/TR/fetch-metadata/.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

SEC_FETCH_PREFIX = "sec-fetch-"
CORS_RESPONSE_PREFIX = "access-control-"


def host_name(host: str) -> str:
    """The name or address in a Host header, without its port or brackets, lower-case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def is_loopback_name(name: str) -> bool:
    """``localhost``, a name under ``.localhost`` (which resolves to loopback, RFC 6761), or a
    loopback address."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def browser_refusal(headers: Iterable[tuple[str, str]], who: str) -> str | None:
    """One line saying why a web page's request is refused (an ``Origin`` or ``Sec-Fetch-*``
    header), None if it carries neither. ``who``: the server, as the line names it."""
    names = {name.lower() for name, _ in headers}
    if "origin" in names:
        return f"{who} refuses requests from web pages (Origin header)"
    fetch = sorted(name for name in names if name.startswith(SEC_FETCH_PREFIX))
    if fetch:
        return f"{who} refuses requests from web pages ({fetch[0].title()} header)"
    return None


def host_refusal(host: str | None, who: str) -> str | None:
    """One line saying why a ``Host`` header is refused (none, or not a loopback name: DNS
    rebinding), None if it is loopback."""
    if not host or not host.strip():
        return f"{who} needs a Host header"
    name = host_name(host)
    if not is_loopback_name(name):
        return f"{who} answers only on a loopback name, not {name[:80]!r} (DNS-rebinding guard)"
    return None


def refusal(headers: Iterable[tuple[str, str]], who: str) -> str | None:
    """:func:`browser_refusal`, then :func:`host_refusal`: the first reason, or None."""
    received = list(headers)
    hosts = [value for name, value in received if name.lower() == "host"]
    return browser_refusal(received, who) or host_refusal(hosts[0] if hosts else None, who)


def is_cors_header(name: str) -> bool:
    """An ``Access-Control-*`` response header: what lets a page read a cross-origin answer."""
    return name.lower().startswith(CORS_RESPONSE_PREFIX)
