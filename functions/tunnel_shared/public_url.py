"""Where the public reaches a tunnel: ``PUBLIC_URL_FORMAT``, with ``{subdomain}`` in it.

Two forms, one per way API Gateway can be reached:
- by Host, under a wildcard custom domain: ``https://{subdomain}.tunnel.example.com``; the
  subdomain is the Host's first label, and only exactly ``<label>.<domain>`` is a tunnel's
  host (``demo.attacker.net``, ``demo.a.tunnel.example.com`` or a bare ``demo`` are none); the
  path reaches the agent as it is;
- by path, on the HTTP API's own endpoint (execute-api hosts take no wildcard):
  ``https://<api-id>.execute-api.<region>.amazonaws.com/{subdomain}``; the subdomain is the
  path's first segment, and what follows it is the path the local service sees.

The ``response`` function fills the format in for the agent; ``forwarding`` reads it back
from a request, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

PLACEHOLDER = "{subdomain}"


class PublicUrlError(ValueError):
    """The format names no ``{subdomain}``, or puts it somewhere this module cannot read."""


@dataclass(frozen=True)
class Located:
    """A public request's tunnel and the path its local service receives."""

    subdomain: str
    path: str  # "/x/y": always starts with "/"
    # The caller asked for the bare tunnel root without its slash ("/demo"): relative links
    # only resolve under "/demo/", so the answer is a redirect there.
    needs_slash: bool = False


@dataclass(frozen=True)
class PublicUrl:
    format: str

    def __post_init__(self) -> None:
        parts = urlsplit(self.format)
        in_host = PLACEHOLDER in parts.netloc
        in_path = parts.path == "/" + PLACEHOLDER
        if in_host == in_path or parts.query or parts.fragment:
            raise PublicUrlError(
                f"PUBLIC_URL_FORMAT {self.format!r} must have {PLACEHOLDER} as the host's first "
                f"label or as the whole path"
            )
        if in_host and not parts.netloc.startswith(PLACEHOLDER + "."):
            raise PublicUrlError(
                f"PUBLIC_URL_FORMAT {self.format!r}: {PLACEHOLDER} must be the host's first label"
            )

    @property
    def by_path(self) -> bool:
        return PLACEHOLDER not in urlsplit(self.format).netloc

    @property
    def domain(self) -> str:
        """By Host: the domain under which each tunnel has its label (``tunnel.example.com``),
        without the format's port, if it has one (``http://{subdomain}.localhost:4567``)."""
        return host_name(urlsplit(self.format).netloc).removeprefix(PLACEHOLDER + ".")

    def host(self, subdomain: str) -> str:
        """The public host of a tunnel (by path: the API's own, shared by every tunnel)."""
        return urlsplit(self.url(subdomain)).netloc

    def url(self, subdomain: str) -> str:
        return self.format.replace(PLACEHOLDER, subdomain)

    def locate(self, host: str, raw_path: str) -> Located | None:
        """The tunnel a request is for, or None when it names none."""
        if not self.by_path:
            label, dot, domain = host_name(host).partition(".")
            if not label or not dot or domain != self.domain:
                return None
            return Located(label, raw_path or "/")
        segment, slash, rest = raw_path.lstrip("/").partition("/")
        if not segment:
            return None
        # Paths are case-sensitive: "/Demo/" is not "/demo/" (and is no valid subdomain).
        return Located(segment, "/" + rest, needs_slash=not slash)


def host_name(host: str) -> str:
    """A Host (``Demo.Tunnel.Test:4567``) as a lowercase name without its port: the port a
    public URL is reached on is no part of a tunnel's identity. A bracketed IPv6 literal keeps
    its colons."""
    name, colon, port = host.rpartition(":")
    if colon and (port == "" or port.isdigit()):
        host = name
    return host.lower()
