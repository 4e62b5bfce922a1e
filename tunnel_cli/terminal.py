"""What the agent prints is safe for a terminal: text from the wire (a path, a query, a reason
from the server, an exception's text) can carry control characters, and a terminal obeys them.
ESC starts sequences that set the clipboard (OSC 52), retitle the window or rewrite lines
already printed; C1's CSI (U+009B) does the same on terminals that read 8-bit controls; a
carriage return lets a line print over itself.

``printable`` writes each such character as a visible escape (``\\x1b``, ``\\x9b``,
``\\u202e``), so nothing the terminal would act on is left, and it is the last step before a
line is printed: no later decoding (a path's percent-escapes, say) can bring one back.
"""

from __future__ import annotations

import re

# C0 controls (newline included: one message is one line), DEL, C1 controls; and the Unicode
# controls that reorder or break what is shown (bidirectional overrides and isolates, the line
# and paragraph separators), which would let one line pass for another.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character written as a visible escape."""
    return UNPRINTABLE.sub(_escape, text)
