"""A WebSocket client that shows frames: websockets' Sans-I/O ClientProtocol on a plain socket.

The asyncio client reassembles fragmented messages; the limit tests need to send frames of a
chosen size and to see the size of every frame the gateway sends.
"""

from __future__ import annotations

import socket
import time

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri


class RawClient:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        uri = parse_uri(url)
        self.protocol = ClientProtocol(uri, max_size=None)
        self.socket = socket.create_connection((uri.host, uri.port), timeout=timeout)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        self.response: Response | None = None
        self.frames: list[Frame] = []
        self.closed = False
        deadline = time.monotonic() + timeout
        while self.response is None and time.monotonic() < deadline and not self.closed:
            self._read()

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response else None

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.socket.sendall(data)

    def _read(self) -> None:
        try:
            data = self.socket.recv(65536)
        except TimeoutError:
            return
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
            self.closed = True
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                self.response = event
            else:
                self.frames.append(event)
        self._flush()

    def send_fragments(self, chunks: list[bytes], text: bool = True) -> None:
        """One message, one frame per chunk."""
        first = self.protocol.send_text if text else self.protocol.send_binary
        first(chunks[0], fin=len(chunks) == 1)
        for index, chunk in enumerate(chunks[1:], start=2):
            self.protocol.send_continuation(chunk, fin=index == len(chunks))
        self._flush()

    def read_until(self, done, timeout: float = 5.0) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not done() and not self.closed and time.monotonic() < deadline:
            self._read()

    def data_frames(self) -> list[Frame]:
        return [f for f in self.frames if f.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)]

    def close_code(self) -> int | None:
        close = self.protocol.close_rcvd
        return close.code if close else None

    def shut(self) -> None:
        self.socket.close()
