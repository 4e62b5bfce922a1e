"""The WebSocket API's URL, as the user gives it (``--url``, ``$TUNNEL_URL``, ``tunnel.yml``):
checked before the token is added to it, and printed without its query."""

from __future__ import annotations

import re
from urllib.parse import urlsplit


def url_problem(url: str) -> str | None:
    """What makes ``url`` unusable as the WebSocket API's URL, or None. Checked before the
    token is added to it: the libraries' own errors quote the whole URL."""
    bad_port = "has a port that is not a number from 1 to 65535"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # an out-of-range or non-numeric port, a broken [IPv6] host
        return bad_port if "port" in str(exc).lower() else "is not a URL"
    if parts.scheme not in ("ws", "wss"):
        return "must be a ws:// or wss:// URL"
    if "@" in parts.netloc:
        return "must not carry a user name or password (the token goes in --token)"
    if not parts.hostname or re.search(r"[\s\x00-\x1f\x7f]", parts.hostname):
        return "has no host" if not parts.hostname else "has a host that is not a name"
    if port == 0:
        return bad_port
    if parts.fragment or url.endswith("#"):
        return "must not have a #fragment"
    return None


def shown_url(url: str) -> str:
    """``url`` as it may be printed: without its query, fragment or user name and password."""
    without_query = re.split(r"[?#]", url, maxsplit=1)[0]
    return re.sub(r"^([^/]*//)[^/]*@", r"\1…@", without_query)
