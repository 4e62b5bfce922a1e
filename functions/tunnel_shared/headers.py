"""Which HTTP headers the tunnel drops, in one place: the forwarding function (the edge), the
agent (tunnel_cli.forward) and the local gateway (local_gateway.http_events) use these sets.

- ``HOP_BY_HOP``: the connection-specific fields of RFC 9110 §7.6.1 (and the ones §7.6.1 and
  RFC 9112 name beside them, ``Proxy-Connection`` included). They describe one connection, and
  every hop drops them; so does each header the ``Connection`` field names
  (``named_by_connection``).
- ``FRAMING``: the body's length on one connection; whoever sends the body sets its own.
- At the edge, forwarding also drops what the caller may not tell the app (``edge_dropped``):
  the forwarding headers (the tunnel sets its own), and the headers apps and frameworks read as
  the client's address or as the URL they serve (``CLIENT_CLAIMS``). Dropping the ``Connection``
  header there, with what it names, keeps a caller from having the agent drop the tunnel's own
  ``X-Forwarded-For``.
"""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
FRAMING = frozenset({"content-length"})
# The caller's own forwarding headers: the tunnel's replace them (RFC 7239's ``Forwarded`` too).
# Every ``X-Forwarded-*``: Rack reads ``-Ssl`` and ``-Scheme`` as the scheme, others ``-Server``.
FORWARDED = "forwarded"
FORWARDED_PREFIX = "x-forwarded-"
# Read as the client's address (nginx's realip, Rails' RemoteIp, CDNs) or as the URL served
# (IIS's URL Rewrite, Symfony, Spring): the caller's word for either is never passed on.
CLIENT_CLAIMS = frozenset(
    {
        "client-ip",
        "true-client-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "x-real-ip",
        "x-original-url",
        "x-rewrite-url",
    }
)
# The request's authority: needed to route and to answer, never a connection option.
_NEVER_NAMED = frozenset({"host"})


def named_by_connection(pairs: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The header names (lowercased) that the ``Connection`` fields among ``pairs`` list."""
    return frozenset(
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    )


def is_forwarding(name: str) -> bool:
    """A forwarding header (lowercased ``name``), which only the tunnel sets."""
    return name == FORWARDED or name.startswith(FORWARDED_PREFIX)


def edge_dropped(pairs: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The names (lowercased) of the caller's headers that the edge drops, besides the
    forwarding ones (``is_forwarding``): hop-by-hop, what ``Connection`` names (Host excepted),
    and the client claims."""
    return HOP_BY_HOP | CLIENT_CLAIMS | (named_by_connection(pairs) - _NEVER_NAMED)
