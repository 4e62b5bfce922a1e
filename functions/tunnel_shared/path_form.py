"""Browsers under the path form, where every tunnel is a path (``/<subdomain>``) of one host.

An app written for the root of its own origin writes absolute links (``/static/app.css``,
``/@vite/client``) and redirects (``Location: /items``) that leave its ``/<subdomain>`` prefix.
Forwarding brings them back two ways:

- ``Location``: an absolute path, or an absolute URL on the public origin (scheme, host and port
  as the browser used them), gets the prefix back: ``/items?moved=1`` becomes
  ``/demo/items?moved=1``. One already under the prefix (exactly ``/demo``, or ``/demo/...``:
  what an app that honours ``X-Forwarded-Prefix`` writes) is left alone, and so are other
  origins' URLs and relative references.
- A routing cookie: a request by the prefix sets a host-only session cookie naming the tunnel
  (unless the request already carries it with that value); a later request whose first path
  segment is no live tunnel goes to the cookie's tunnel, its path unchanged. Over https it is
  ``__Host-tunnel`` (the browser then insists on Secure, ``Path=/`` and no Domain, so nothing
  but this host can set it); over http (the local gateway) ``tunnel-route``, as ``__Host-``
  cookies must be Secure. Both are HttpOnly and SameSite=Lax. The cookie never reaches the app,
  and an app's own ``Set-Cookie`` of either name is dropped: an app cannot steer routing.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

ROUTE_COOKIE = "tunnel-route"
SECURE_ROUTE_COOKIE = "__Host-tunnel"
ROUTE_COOKIES = frozenset({ROUTE_COOKIE.lower(), SECURE_ROUTE_COOKIE.lower()})
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Origin:
    """The public origin as the browser used it: ``https``, the host name, 443."""

    scheme: str
    host: str  # lowercase, without its port
    port: int


def route_cookie_name(scheme: str) -> str:
    return SECURE_ROUTE_COOKIE if scheme == "https" else ROUTE_COOKIE


def set_route_cookie(subdomain: str, scheme: str) -> str:
    """The ``Set-Cookie`` that routes this browser's absolute paths to ``subdomain``."""
    secure = "; Secure" if scheme == "https" else ""
    return f"{route_cookie_name(scheme)}={subdomain}; Path=/{secure}; HttpOnly; SameSite=Lax"


def clear_route_cookie(scheme: str) -> str:
    """The ``Set-Cookie`` that removes the routing cookie (its tunnel is gone)."""
    secure = "; Secure" if scheme == "https" else ""
    return f"{route_cookie_name(scheme)}=; Path=/; Max-Age=0{secure}; HttpOnly; SameSite=Lax"


def split_cookies(cookies: list[str], scheme: str) -> tuple[list[str], str | None]:
    """The request's cookies (``name=value`` each, as payload 2.0 lists them) without the
    routing ones, and the value of the first routing cookie of ``scheme``, if any (unchecked:
    the caller chose it)."""
    kept: list[str] = []
    value: str | None = None
    wanted = route_cookie_name(scheme).lower()
    for cookie in cookies:
        name, _, text = cookie.partition("=")
        key = name.strip().lower()
        if key not in ROUTE_COOKIES:
            kept.append(cookie)
        elif key == wanted and value is None:
            value = text.strip()
    return kept, value


def is_route_cookie(set_cookie: str) -> bool:
    """Whether a ``Set-Cookie`` sets either routing cookie (names compared case-blind, as
    browsers compare the ``__Host-`` prefix)."""
    name = set_cookie.split(";", 1)[0].partition("=")[0]
    return name.strip().lower() in ROUTE_COOKIES


def prefixed_location(location: str, prefix: str, origin: Origin) -> str:
    """``location`` with ``prefix`` (``/demo``) put back in front of its path when it is an
    absolute path or an absolute URL on ``origin``, and its path is not under it already."""
    if not prefix:
        return location
    if location.startswith("/") and not location.startswith("//"):
        return _under(prefix, location)
    if any(c == "\\" or c <= " " or c == "\x7f" for c in location):
        return location  # what URL parsers strip or read as "/": not worth guessing
    try:
        parts = urlsplit(location)
        port = parts.port
    except ValueError:  # a port that is no number, a bad IPv6 literal
        return location
    scheme = parts.scheme or origin.scheme
    if not parts.netloc or scheme not in DEFAULT_PORTS:
        return location  # relative (items, ../x, ?q), or no web URL
    if (scheme, parts.hostname, port or DEFAULT_PORTS[scheme]) != (
        origin.scheme,
        origin.host,
        origin.port,
    ):
        return location
    start = location.index("//") + 2 + len(parts.netloc)
    return location[:start] + _under(prefix, location[start:])


def _under(prefix: str, target: str) -> str:
    """``target`` (``/path?query#fragment``, or ``?query``, or nothing) under ``prefix``."""
    cut = min((i for i in (target.find("?"), target.find("#")) if i >= 0), default=len(target))
    path = target[:cut]
    if path == prefix or path.startswith(prefix + "/"):
        return target
    return prefix + (target if path.startswith("/") else "/" + target)
