"""Who may talk to the inspector. It holds users' cookies and tokens and can replay requests, so:

- **Host**: only a loopback name or address (``localhost``, ``*.localhost``, ``127.0.0.0/8``,
  ``[::1]``) or the address it was bound to. A web page whose name an attacker rebinds to
  127.0.0.1 (DNS rebinding) sends its own name as Host, and is refused.
- **Origin**: when present, it must be the inspector's own (``http://<Host>``): a page elsewhere
  cannot drive the API from a visitor's browser, even with a request CORS lets through unasked.
- **State-changing requests** (POST, DELETE) carry no body or an ``application/json`` one: the
  content types an HTML form can send are refused, whatever the Origin says.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def host_name(host: str) -> str:
    """The name or address in a Host header, without its port or brackets, lower-case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal(
    method: str, headers: Mapping[str, str], bound_host: str, has_body: bool
) -> tuple[int, str] | None:
    """``(status, message)`` when the request must be refused, else None. ``headers`` is
    case-insensitive (``http.client.HTTPMessage``)."""
    host = headers.get("Host")
    if not host:
        return 403, "a Host header is required"
    name = host_name(host)
    if not (is_loopback(name) or name == host_name(bound_host)):
        return 403, (
            f"the inspector answers only on a loopback name or address, not {name[:80]!r} "
            "(DNS-rebinding guard)"
        )
    origin = headers.get("Origin")
    if origin is not None and origin.strip().lower() != f"http://{host.strip().lower()}":
        return 403, f"cross-origin requests are refused (Origin {origin[:80]!r})"
    if method in STATE_CHANGING:
        fetch_site = headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return 403, f"cross-site requests are refused (Sec-Fetch-Site {fetch_site[:40]!r})"
        content_type = (headers.get("Content-Type") or "").partition(";")[0].strip().lower()
        if has_body and content_type != "application/json":
            return 415, (
                f"{method} needs Content-Type: application/json (got {content_type or 'none'!r})"
            )
    return None
