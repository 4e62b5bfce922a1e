"""The reply address's MAC: which answers-API connection may receive a request's answer.

forwarding tells the agent where to answer (``replyTo``, its own connection to the answers
API) and binds that address to the request and to the agent's connection with
``replyMac = base64url(HMAC-SHA256(reply key, requestId NUL agentConnectionId NUL replyTo))``.
The agent echoes both; ``response`` recomputes the MAC with the connection that actually sent
the response. So no agent can answer another tunnel's request (its connection id differs) or
aim an answer at an address it was not given (the MAC would not match), and only the functions
holding the reply key (forwarding, response) can make one. NUL cannot occur in any of the three
(request ids are hex, connection ids and replyTo are API Gateway's base64-like ids; ``verify``
refuses a part that has one), so the joined text is unambiguous.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SEPARATOR = b"\x00"


def mac(key: bytes, request_id: str, agent_connection_id: str, reply_to: str) -> str:
    """The unpadded base64url HMAC-SHA256 that binds ``reply_to`` to the request and agent."""
    # surrogatepass: an agent may send any JSON string, a lone surrogate included.
    text = SEPARATOR.join(
        part.encode("utf-8", "surrogatepass")
        for part in (request_id, agent_connection_id, reply_to)
    )
    digest = hmac.new(key, text, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(
    key: bytes, claimed: object, request_id: str, agent_connection_id: str, reply_to: object
) -> bool:
    """Whether ``claimed`` is the MAC of this request, agent connection and ``reply_to``
    (compared in constant time; anything missing or not text is a mismatch)."""
    if not isinstance(claimed, str) or not isinstance(reply_to, str) or not reply_to:
        return False
    if any("\x00" in part for part in (request_id, agent_connection_id, reply_to)):
        return False  # the separator inside a part could make two triples one text
    expected = mac(key, request_id, agent_connection_id, reply_to)
    return hmac.compare_digest(expected.encode(), claimed.encode("utf-8", "surrogatepass"))
