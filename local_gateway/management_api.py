"""The @connections management API at ``http://127.0.0.1:<port>/<stage>/@connections/{id}``:
what boto3's ``apigatewaymanagementapi`` client calls with that ``endpoint_url``.

POST sends the body to the connection as one message (frames of at most 32 KB), GET describes
it, DELETE closes it. Each call must be SigV4-signed for ``execute-api`` by a key the emulator
knows, over its body too (aws_fidelity.rules.check_management_api_signature): any local process
that merely knows a connection id cannot write to an agent or close it. Errors are shaped for
botocore: the status, ``x-amzn-ErrorType`` and a JSON ``message``, so
``client.exceptions.GoneException`` and friends are raised.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

from aiohttp import web
from tunnel_shared.limits import MAX_MESSAGE_BYTES

from aws_fidelity import rules
from local_gateway import access_log
from local_gateway.connections import Connections
from local_gateway.request_meta import aws_id, iso8601
from local_gateway.websocket_transport import Gone

DELETE_CLOSE_CODE = 1000


def _error(status: int, error_type: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type},
    )


def gone() -> web.Response:
    return _error(410, "GoneException", "The connection with the provided id no longer exists")


def established(ready: bool) -> web.Response:
    """rules.check_connection_established's 410 for a connection not (or no longer) there."""
    try:
        rules.check_connection_established(ready)
    except rules.Refused as refused:
        return _error(refused.status, refused.code, refused.message)
    return web.Response(status=200)


def missing_token() -> web.Response:
    """What API Gateway answers where nothing is routed, and to an unsigned call."""
    return _error(403, "MissingAuthenticationTokenException", rules.MISSING_AUTHENTICATION_TOKEN)


class ManagementApi:
    def __init__(
        self,
        connections: Connections,
        secret_keys: Mapping[str, str] = rules.KNOWN_CREDENTIALS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connections = connections
        self._secret_keys = secret_keys
        self._clock = clock

    async def handle(self, request: web.Request, connection_id: str) -> web.Response:
        since = access_log.started()
        response = await self._answer(request, connection_id)
        response.headers["x-amzn-RequestId"] = aws_id()
        access_log.line(f"{request.method} {request.path}", response.status, since)
        return response

    async def _answer(self, request: web.Request, connection_id: str) -> web.Response:
        # The real API takes only IAM (SigV4) calls, their signature checked over the body too.
        data = await request.read()
        try:
            path, _, query = request.raw_path.partition("?")
            rules.check_management_api_signature(
                request.method,
                path,
                query,
                list(request.headers.items()),
                data,
                self._secret_keys,
                self._clock(),
            )
        except rules.Refused as refused:
            access_log.note(f"@connections {request.method} refused: {refused.code}")
            return _error(refused.status, refused.code, refused.message)
        # Registered only once $connect has accepted it and the 101 has gone out.
        connection = self._connections.get(connection_id)
        if request.method == "POST":
            if len(data) > MAX_MESSAGE_BYTES:
                return _error(413, "PayloadTooLargeException", "Message too long")
            if connection is None:
                return established(False)
            try:
                connection.transport.send(data)
            except Gone:
                return gone()
            return web.Response(status=200)
        if connection is None:
            return established(False)
        if request.method == "GET":
            caller = connection.caller
            described = {
                "connectedAt": iso8601(caller.connected_at),
                "identity": {"sourceIp": caller.source_ip, "userAgent": caller.user_agent},
                "lastActiveAt": iso8601(connection.last_active_at),
            }
            return web.json_response(described)
        if request.method == "DELETE":
            connection.transport.close(DELETE_CLOSE_CODE)
            return web.Response(status=204)
        return missing_token()
