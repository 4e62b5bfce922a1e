"""Agent tokens: ``v1.<claims>.<signature>``, HMAC-SHA256 over ``v1.<claims>`` with the signing key.

Claims are base64url JSON: ``jti`` (the token's own id: 32 hex digits, random), ``iat`` and
``exp`` (issued and expires, Unix seconds), ``sub`` (the person or machine it was issued for)
and ``subdomain`` (what it may claim). The key is the signing secret's string value, kept in
Secrets Manager. Each token is also recorded by its id in the tokens table, where it can be
revoked alone (``tunnel token revoke``); the authorizer reads that record.

Verifying never raises anything but TokenError, whatever the input: a token is ASCII, and the
signature is compared as bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass

VERSION = "v1"
SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
TOKEN_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_TOKEN_LENGTH = 2048


class TokenError(ValueError):
    """The token is missing, malformed, badly signed or expired; the message says which."""


@dataclass(frozen=True)
class Claims:
    subject: str
    subdomain: str
    expires: int
    token_id: str
    issued_at: int


def new_token_id() -> str:
    return secrets.token_hex(16)


def issue(
    key: str,
    subject: str,
    subdomain: str,
    ttl_seconds: int,
    now: float | None = None,
    token_id: str | None = None,
) -> str:
    if not SUBDOMAIN.match(subdomain):
        raise TokenError(f"subdomain {subdomain!r} is not a DNS label (a-z, 0-9, -)")
    if not subject or ttl_seconds <= 0:
        raise TokenError("a token needs a subject and a positive lifetime")
    token_id = token_id or new_token_id()
    if not TOKEN_ID.match(token_id):
        raise TokenError("a token id is 32 hex digits")
    issued = int(time.time() if now is None else now)
    claims = {
        "exp": issued + ttl_seconds,
        "iat": issued,
        "jti": token_id,
        "sub": subject,
        "subdomain": subdomain,
    }
    body = _encode(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
    return f"{VERSION}.{body}.{_sign(key, body)}"


def read_claims(token: object) -> Claims:
    """The claims of a well-formed token, NOT verified: for the agent, which holds no key."""
    if not isinstance(token, str) or not token:
        raise TokenError("missing token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("malformed token: too long")
    if not token.isascii():
        raise TokenError("malformed token: not ASCII")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise TokenError("malformed token: expected v1.<claims>.<signature>")
    try:
        claims = json.loads(_decode(parts[1]))
        subject, subdomain, expires = claims["sub"], claims["subdomain"], claims["exp"]
        token_id, issued_at = claims["jti"], claims["iat"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise TokenError("malformed token: unreadable claims") from None
    if not isinstance(subject, str) or not isinstance(subdomain, str) or not subject:
        raise TokenError("malformed token: bad claims")
    if not SUBDOMAIN.match(subdomain):
        raise TokenError("malformed token: bad claims")
    if not isinstance(token_id, str) or not TOKEN_ID.match(token_id):
        raise TokenError("malformed token: bad token id")
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (expires, issued_at)):
        raise TokenError("malformed token: bad times")
    return Claims(subject, subdomain, expires, token_id, issued_at)


def verify(key: str, token: object, now: float | None = None) -> Claims:
    """The claims of a token signed with ``key`` and not expired; TokenError says why not."""
    claims = read_claims(token)
    _, body, signature = str(token).split(".")
    if not hmac.compare_digest(_sign(key, body).encode(), signature.encode()):
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
