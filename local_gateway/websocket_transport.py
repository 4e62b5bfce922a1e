"""One server-side WebSocket, framed by websockets' Sans-I/O protocol over aiohttp's socket.

aiohttp's own WebSocket reader reassembles fragments before anyone sees them, so it cannot
enforce API Gateway's 32 KB frame limit. After aiohttp has sent the 101 response, this object
takes the connection's bytes instead (aiohttp's ``RequestHandler.set_parser``, the hook its
WebSocketResponse uses) and feeds them to ``websockets.server.ServerProtocol``, whose
``max_size=(message, frame)`` checks every frame header and the running message size: a larger
frame or message fails the connection with close code 1009 before its payload is read. Outgoing
messages are split into frames of at most 32 KB, as API Gateway sends them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from tunnel_shared.limits import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES
from websockets.frames import CloseCode, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

# A client that never answers our close frame is dropped after this long.
CLOSE_TIMEOUT_SECONDS = 2.0
# websockets logs every open and close at INFO; the gateway logs its own line per event.
_quiet = logging.getLogger("local_gateway.websocket")
_quiet.setLevel(logging.WARNING)


def handshake_checker() -> ServerProtocol:
    """Validates an upgrade request and builds the 101 (``accept``); it reads no frames."""
    return ServerProtocol(logger=_quiet)


@dataclass(frozen=True)
class Message:
    data: bytes
    is_text: bool


class Gone(Exception):
    """The connection is not open: API Gateway's 410 for @connections."""


class WebSocketTransport:
    """Messages in, messages out, close: for one connection whose handshake is done."""

    def __init__(self, transport: asyncio.Transport) -> None:
        # A protocol created OPEN parses frames from the first byte: aiohttp parsed the upgrade.
        self._protocol = ServerProtocol(
            state=State.OPEN, max_size=(MAX_MESSAGE_BYTES, MAX_FRAME_BYTES), logger=_quiet
        )
        self._transport = transport
        self._inbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self._fragments: list[bytes] = []
        self._fragment_is_text = False
        self._finished = False
        self._loop = asyncio.get_running_loop()

    # --- aiohttp's payload-parser interface: called by its protocol, on the event loop ---

    def feed_data(self, data: bytes | bytearray | memoryview) -> tuple[bool, bytes]:
        if not self._finished:
            self._protocol.receive_data(bytes(data))
            self._pump()
        return False, b""

    def feed_eof(self) -> None:
        self._protocol.receive_eof()
        self._pump()
        self._finish()

    # --- for the gateway ---

    @property
    def is_open(self) -> bool:
        return self._protocol.state is State.OPEN

    async def receive(self) -> Message | None:
        """The next complete message, or None once the connection has closed."""
        return await self._inbox.get()

    def send(self, data: bytes) -> None:
        """One message (text if it is UTF-8), in frames of at most 32 KB."""
        if not self.is_open:
            raise Gone
        try:
            data.decode()
            first = self._protocol.send_text
        except UnicodeDecodeError:
            first = self._protocol.send_binary
        chunks = [data[i : i + MAX_FRAME_BYTES] for i in range(0, len(data), MAX_FRAME_BYTES)]
        chunks = chunks or [b""]
        first(chunks[0], fin=len(chunks) == 1)
        for index, chunk in enumerate(chunks[1:], start=2):
            self._protocol.send_continuation(chunk, fin=index == len(chunks))
        self._flush()

    def close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake; drop the TCP connection if the client does not finish it."""
        if self.is_open:
            self._protocol.send_close(code, reason)
            self._flush()
            self._loop.call_later(CLOSE_TIMEOUT_SECONDS, self._abort)

    def close_status(self) -> tuple[int, str]:
        """The close code and reason that ended the connection, as ``$disconnect`` reports them."""
        sent, received = self._protocol.close_sent, self._protocol.close_rcvd
        if sent is not None and (received is None or not self._protocol.close_rcvd_then_sent):
            return sent.code, sent.reason
        if received is not None:
            return received.code, received.reason
        return CloseCode.ABNORMAL_CLOSURE, ""

    # --- internals ---

    def _pump(self) -> None:
        for frame in self._protocol.events_received():
            if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                self._fragments = [frame.data]
                self._fragment_is_text = frame.opcode is Opcode.TEXT
            elif frame.opcode is Opcode.CONT:
                self._fragments.append(frame.data)
            else:
                continue  # ping, pong, close: the protocol has answered them
            if frame.fin:
                self._deliver(b"".join(self._fragments))
                self._fragments = []
        self._flush()
        if self._protocol.state is State.CLOSED:
            self._finish()

    def _deliver(self, data: bytes) -> None:
        if self._protocol.close_sent is not None:
            return  # we are closing (or failed the connection): nothing more is routed
        if self._fragment_is_text:
            try:
                data.decode()
            except UnicodeDecodeError:
                self._protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8 in a text message")
                return
        self._inbox.put_nowait(Message(data, self._fragment_is_text))

    def _flush(self) -> None:
        for chunk in self._protocol.data_to_send():
            if self._transport.is_closing():
                continue
            if chunk:
                self._transport.write(chunk)
            else:
                # End of stream: after the closing handshake the server closes TCP first.
                self._transport.close()

    def _abort(self) -> None:
        if not self._transport.is_closing():
            self._transport.abort()

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._inbox.put_nowait(None)
