"""A tunnel's cookies stay its own.

Every tunnel is served under one registrable domain (``*.tunnel.example.com``, or one
execute-api host for all), so a ``Set-Cookie`` with ``Domain=`` could set cookies for the other
tunnels and for the parent domain ("cookie tossing"). A response's cookies are made host-only for
the tunnel's own public host: a ``Domain`` attribute is removed unless it names exactly that
host. Where tunnels are paths of one host, every ``Domain`` goes (that host is every tunnel's,
and locally ``Domain=localhost`` would reach the ``<sub>.localhost`` names too), and an explicit
``Path`` is put under the tunnel's own path (the local service's ``/`` is the public
``/<subdomain>/``), so the browser sends it back to that tunnel only. Attributes are otherwise
kept as sent (RFC 6265 §5.2: names are case-insensitive; an attribute without ``=`` has an empty
value).
"""

from __future__ import annotations

from tunnel_shared.public_url import host_name


def scoped(set_cookie: str, host: str, path_prefix: str = "") -> str:
    """``set_cookie`` made host-only for ``host`` (a port it carries, as ``X-Forwarded-Host``
    may, is no part of it), its Path under ``path_prefix`` if given."""
    host = host_name(host)
    pair, *attributes = set_cookie.split(";")
    kept = [pair]
    for attribute in attributes:
        name, _, value = attribute.partition("=")
        key = name.strip().lower()
        if key == "domain":
            if path_prefix or value.strip().lstrip(".").lower() != host:
                continue
        elif key == "path" and path_prefix:
            path = value.strip()
            attribute = f" Path={path_prefix}{path if path.startswith('/') else '/'}"
        kept.append(attribute)
    return ";".join(kept)
