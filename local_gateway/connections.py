"""The open WebSocket connections, by id: what @connections posts to, reads and closes.

A connection is registered only once ``$connect`` has accepted it and the 101 has gone out, so
posting to it earlier answers 410, as API Gateway does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from local_gateway.request_meta import epoch_ms
from local_gateway.websocket_events import Caller
from local_gateway.websocket_transport import WebSocketTransport


@dataclass
class Connection:
    caller: Caller
    transport: WebSocketTransport
    authorizer: dict[str, Any] | None
    opened: float = field(default_factory=time.monotonic)
    last_active: float = field(default_factory=time.monotonic)
    last_active_at: int = field(default_factory=epoch_ms)  # epoch ms, for GetConnection

    @property
    def connection_id(self) -> str:
        return self.caller.connection_id

    def touch(self) -> None:
        self.last_active = time.monotonic()
        self.last_active_at = epoch_ms()


class Connections:
    def __init__(self) -> None:
        self._open: dict[str, Connection] = {}

    def add(self, connection: Connection) -> None:
        self._open[connection.connection_id] = connection

    def remove(self, connection: Connection) -> None:
        self._open.pop(connection.connection_id, None)

    def get(self, connection_id: str) -> Connection | None:
        connection = self._open.get(connection_id)
        return connection if connection and connection.transport.is_open else None

    def all(self) -> list[Connection]:
        return list(self._open.values())
