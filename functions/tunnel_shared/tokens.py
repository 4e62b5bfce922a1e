"""Agent tokens: ``v1.<claims>.<signature>``, HMAC-SHA256 over ``v1.<claims>`` with the signing key.

Claims are base64url JSON: ``sub`` (who holds it), ``subdomain`` (what it may claim) and ``exp``
(Unix seconds). The key is the signing secret's string value, kept in Secrets Manager.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass

VERSION = "v1"
SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_TOKEN_LENGTH = 2048


class TokenError(ValueError):
    """The token is missing, malformed, badly signed or expired; the message says which."""


@dataclass(frozen=True)
class Claims:
    subject: str
    subdomain: str
    expires: int


def issue(
    key: str, subject: str, subdomain: str, ttl_seconds: int, now: float | None = None
) -> str:
    if not SUBDOMAIN.match(subdomain):
        raise TokenError(f"subdomain {subdomain!r} is not a DNS label (a-z, 0-9, -)")
    if not subject or ttl_seconds <= 0:
        raise TokenError("a token needs a subject and a positive lifetime")
    expires = int((time.time() if now is None else now) + ttl_seconds)
    claims = {"exp": expires, "sub": subject, "subdomain": subdomain}
    body = _encode(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
    return f"{VERSION}.{body}.{_sign(key, body)}"


def read_claims(token: object) -> Claims:
    """The claims of a well-formed token, NOT verified: for the agent, which holds no key."""
    if not isinstance(token, str) or not token:
        raise TokenError("missing token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("malformed token: too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise TokenError("malformed token: expected v1.<claims>.<signature>")
    try:
        claims = json.loads(_decode(parts[1]))
        subject, subdomain, expires = claims["sub"], claims["subdomain"], claims["exp"]
    except (ValueError, KeyError, TypeError):
        raise TokenError("malformed token: unreadable claims") from None
    if not isinstance(subject, str) or not isinstance(subdomain, str):
        raise TokenError("malformed token: bad claims")
    if not SUBDOMAIN.match(subdomain):
        raise TokenError("malformed token: bad claims")
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise TokenError("malformed token: bad expiry")
    return Claims(subject, subdomain, expires)


def verify(key: str, token: object, now: float | None = None) -> Claims:
    """The claims of a token signed with ``key`` and not expired; TokenError says why not."""
    claims = read_claims(token)
    _, body, signature = str(token).split(".")
    if not hmac.compare_digest(_sign(key, body), signature):
        raise TokenError("bad signature")
    if claims.expires <= (time.time() if now is None else now):
        raise TokenError("expired token")
    return claims


def _sign(key: str, body: str) -> str:
    digest = hmac.new(key.encode(), f"{VERSION}.{body}".encode(), hashlib.sha256).digest()
    return _encode(digest)


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
