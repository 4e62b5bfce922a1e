"""Splitting one WebSocket message into frames API Gateway accepts.

API Gateway closes a connection (code 1009) that sends a frame over 32 KB, while a message may
be up to 128 KB: larger messages must go as one fragmented message. ``websockets`` sends one
frame per item when ``send`` is given an iterable, so the agent passes it these fragments.
"""

from __future__ import annotations

from tunnel_shared.limits import MAX_FRAME_BYTES

# A masked client frame's header takes at most 14 bytes; keeping header and payload together
# within 32 KB satisfies the limit however API Gateway counts it.
FRAME_PAYLOAD_BYTES = MAX_FRAME_BYTES - 16


def fragments(text: str, limit: int = FRAME_PAYLOAD_BYTES) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` UTF-8 bytes, never inside a character."""
    if limit < 4:
        raise ValueError("a fragment must hold at least one UTF-8 character (4 bytes)")
    if text.isascii():  # the protocol's JSON is ASCII: one byte per character
        return [text[start : start + limit] for start in range(0, len(text), limit)] or [""]
    data = text.encode()
    pieces: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        # Back off continuation bytes (10xxxxxx) so a character is never split.
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        pieces.append(data[start:end].decode())
        start = end
    return pieces
