"""Who may talk to the inspector. It holds users' cookies and tokens and can replay requests, so:

- **Host**: only a loopback name or address (``localhost``, ``*.localhost``, ``127.0.0.0/8``,
  ``[::1]``) or the address it was bound to. A web page whose name an attacker rebinds to
  127.0.0.1 (DNS rebinding) sends its own name as Host, and is refused.
- **Origin**: when present, it must be the inspector's own (``http://<Host>``): a page elsewhere
  cannot drive the API from a visitor's browser, even with a request CORS lets through unasked.
- **Another site's requests** are refused, reads included: a page elsewhere could otherwise time
  ``/api/requests/http?path=...`` with and without a match and learn what passed through the
  tunnel (XS-Search), though it cannot read the answer. A browser says where a request comes
  from in ``Sec-Fetch-Site``: only ``same-origin`` (the page's own scripts) and ``none`` (an
  address typed or bookmarked) pass; ``same-site`` is refused too, since another port on
  localhost is another origin but the same site. A browser too old to send it (User-Agent
  ``Mozilla/...``) must send the page's own marker, ``X-Tunnel-Inspector``, which no page
  elsewhere can add without a CORS preflight the inspector never grants. Clients that are not
  browsers (curl, scripts) send neither and pass.
  Exempt: loading the page and its static files, which hold no captured data (so a link to the
  inspector from elsewhere still opens it), and the live-update stream's marker rule
  (EventSource cannot send a header; it tells only a counter).
- **State-changing requests** (POST, DELETE) carry no body or an ``application/json`` one: the
  content types an HTML form can send are refused, whatever the Origin says.
"""

from __future__ import annotations

from collections.abc import Mapping

from tunnel_cli.exposure import is_loopback

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Sec-Fetch-Site values of a browser's request that this origin's page (or the user) made.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})
# The header the page's own scripts send with each API call (module docstring).
MARKER = "X-Tunnel-Inspector"
# What holds no captured data: the page and its files.
PAGE_PATHS = frozenset({"/", "/inspect/http", "/inspect/http/"})
STATIC_PREFIX = "/static/"
# The live-update stream: EventSource sends no custom header.
EVENTS_PATH = "/api/events"


def host_name(host: str) -> str:
    """The name or address in a Host header, without its port or brackets, lower-case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def refusal(
    method: str, headers: Mapping[str, str], bound_host: str, has_body: bool, path: str = "/api"
) -> tuple[int, str] | None:
    """``(status, message)`` when the request for ``path`` must be refused, else None.
    ``headers`` is case-insensitive (``http.client.HTTPMessage``)."""
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
    fetch_site = headers.get("Sec-Fetch-Site")
    inert = method in ("GET", "HEAD") and (path in PAGE_PATHS or path.startswith(STATIC_PREFIX))
    if fetch_site is not None and fetch_site.strip().lower() not in OWN_FETCH_SITES and not inert:
        return 403, (
            f"requests from another site are refused (Sec-Fetch-Site {fetch_site[:40]!r}); "
            "open the inspector's own page"
        )
    browser = (headers.get("User-Agent") or "").startswith("Mozilla/")
    marked = headers.get(MARKER) is not None
    if fetch_site is None and browser and not marked and not inert and path != EVENTS_PATH:
        return 403, (
            f"a browser's request without Sec-Fetch-Site needs the page's {MARKER} header; "
            "open the inspector's own page"
        )
    if method in STATE_CHANGING:
        content_type = (headers.get("Content-Type") or "").partition(";")[0].strip().lower()
        if has_body and content_type != "application/json":
            return 415, (
                f"{method} needs Content-Type: application/json (got {content_type or 'none'!r})"
            )
    return None
