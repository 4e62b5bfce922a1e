"""Connecting to the gateway's WebSocket API from tests, with websockets' sync client."""

from __future__ import annotations

import json
import uuid
from typing import Any

from websockets.sync.client import ClientConnection, connect

from local_gateway.testing import GatewayProcess


def new_tag() -> str:
    """A value unique to one test, to find its records among the package's."""
    return uuid.uuid4().hex[:12]


def open_socket(gateway: GatewayProcess, query: str, **options: Any) -> ClientConnection:
    return connect(f"{gateway.websocket_url}?{query}", proxy=None, open_timeout=10, **options)


def whoami(socket: ClientConnection, action: str = "whoami") -> dict[str, str]:
    """The connection id and route key, as the message handler sees them (it posts them back)."""
    socket.send(json.dumps({"action": action, "whoami": True}))
    return json.loads(socket.recv(timeout=10))


def tagged(tag: str):  # noqa: ANN201
    """Records whose event's query string carries ``tag=<tag>``."""

    def matches(entry: dict[str, Any]) -> bool:
        query = entry["event"].get("multiValueQueryStringParameters") or {}
        return tag in query.get("tag", [])

    return matches


def on_connection(connection_id: str):  # noqa: ANN201
    return lambda entry: entry["event"]["requestContext"]["connectionId"] == connection_id


def with_body(text: str):  # noqa: ANN201
    return lambda entry: text in (entry["event"].get("body") or "")


def signed_upgrade_headers(
    url: str, key: str = "testing", secret: str = "testing"
) -> list[tuple[str, str]]:
    """SigV4 headers for a GET upgrade to ``url`` (ws://), as a client of an IAM $connect signs
    it: botocore's SigV4Auth for execute-api over the http:// form of the same request."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url="http" + url.removeprefix("ws"))
    SigV4Auth(Credentials(key, secret), "execute-api", "us-east-1").add_auth(request)
    return [(name, request.headers[name]) for name in ("Authorization", "X-Amz-Date")]


def answers_url(gateway: GatewayProcess, api_id: str) -> str:
    """The answers API's stage on the local gateway (its id stands for its host)."""
    return f"ws://127.0.0.1:{gateway.port}/{api_id}/dev"


def open_answers(
    gateway: GatewayProcess, api_id: str, headers: list[tuple[str, str]] | None = None
) -> ClientConnection:
    url = answers_url(gateway, api_id)
    return connect(
        url,
        proxy=None,
        open_timeout=10,
        additional_headers=signed_upgrade_headers(url) if headers is None else headers,
    )
