"""Reading a token's claims WITHOUT its key, on the agent's side.

The agent never holds the signing key, and does not need it: the server verifies the token.
The agent only looks inside to compare ``--subdomain`` with what the token grants and to say
clearly, before connecting, that a token is malformed or expired. Nothing here is trusted.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from tunnel_shared.tokens import VERSION


@dataclass(frozen=True)
class UnverifiedClaims:
    subject: str
    subdomain: str
    expires: int


def read_claims(token: str) -> UnverifiedClaims:
    """The claims of a ``v1.<claims>.<signature>`` token, unverified; ValueError if unreadable."""
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise ValueError(f"the token is malformed: expected {VERSION}.<claims>.<signature>")
    try:
        encoded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(encoded))
        subject, subdomain, expires = claims["sub"], claims["subdomain"], claims["exp"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValueError("the token is malformed: its claims are unreadable") from None
    if not isinstance(subject, str) or not isinstance(subdomain, str):
        raise ValueError("the token is malformed: bad claims")
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise ValueError("the token is malformed: bad expiry")
    return UnverifiedClaims(subject, subdomain, expires)
