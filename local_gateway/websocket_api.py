"""The WebSocket API at ``ws://127.0.0.1:<port>/<stage>``: a connection's whole life.

Upgrade request -> identity sources (401 if missing) -> REQUEST authorizer (policy must Allow
``execute-api:Invoke`` on the ``$connect`` method ARN, else 403; raising "Unauthorized" 401, any
other failure or a malformed answer 500, as API Gateway does) -> ``$connect`` integration
(2xx accepts) -> 101 -> each message routed by the API's route selection expression (usually
``$request.body.action``; no match -> ``$default``) -> close, by either side or a limit ->
``$disconnect`` once.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from tunnel_shared.limits import WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS
from websockets.datastructures import Headers
from websockets.http11 import Request

from aws_fidelity import rules
from local_gateway import access_log, answers, iam
from local_gateway.connections import Connection, Connections
from local_gateway.deployment import Api, Deployment, Integration, Route
from local_gateway.lambda_runtime import LambdaRuntime, Outcome, Status
from local_gateway.request_meta import aws_id, epoch_ms, trace_id
from local_gateway.websocket_events import (
    Caller,
    authorizer_event,
    connect_event,
    disconnect_event,
    message_event,
)
from local_gateway.websocket_transport import Message, WebSocketTransport, handshake_checker

MAX_INTEGRATION_MS = WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS * 1000
GOING_AWAY = 1001
# The handshake headers a $connect integration may set on the 101 response.
_CONNECT_RESPONSE_HEADERS = ("Sec-WebSocket-Protocol",)


class Refused(Exception):
    """The upgrade is refused with this HTTP status."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def integration_timeout_ms(integration: Integration | None) -> int:
    configured = integration.timeout_ms if integration and integration.timeout_ms else None
    return min(configured or MAX_INTEGRATION_MS, MAX_INTEGRATION_MS)


def selected_route_key(expression: str, message: Message) -> str | None:
    """The value of ``$request.body.<path>`` in a JSON text message, if it is a string."""
    prefix = "$request.body."
    if not expression.startswith(prefix) or not message.is_text:
        return None
    try:
        value: Any = json.loads(message.data)
    except ValueError:
        return None
    for part in expression[len(prefix) :].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def _identity_present(source: str, headers: dict[str, str], query: dict[str, str]) -> bool:
    """Is an identity source (``route.request.querystring.token``) present and non-empty?"""
    kind, _, name = source.removeprefix("route.request.").partition(".")
    if kind == "querystring":
        return bool(query.get(name))
    if kind == "header":
        return bool(headers.get(name.lower()))
    return True  # stage variables and context variables: always there


def _authorizer_context(answer: Any) -> dict[str, Any]:
    """principalId + context from an authorizer's answer, or Refused(500) if malformed."""
    if not isinstance(answer, dict) or not isinstance(answer.get("principalId"), str):
        raise Refused(500, "authorizer answered without a principalId")
    context = answer.get("context") or {}
    if not isinstance(context, dict) or not all(
        isinstance(v, str | int | float | bool) for v in context.values()
    ):
        # API Gateway accepts only string, number and boolean context values.
        raise Refused(500, "authorizer context must map names to strings, numbers or booleans")
    return {**context, "principalId": answer["principalId"]}


def _refusal(status: int) -> web.Response:
    """The answer to a refused upgrade: API Gateway's own message, or just a $connect status."""
    known = {
        401: answers.UNAUTHORIZED,
        403: answers.FORBIDDEN,
        500: (500, "Internal server error"),
        504: answers.GATEWAY_TIMEOUT,
    }
    return answers.answer(known[status]) if status in known else web.Response(status=status)


def agents_api(deployment: Deployment) -> Api | None:
    return deployment.websocket


def answers_api(deployment: Deployment) -> Api | None:
    return deployment.answers


class WebSocketApi:
    def __init__(
        self,
        deployment: Deployment,
        runtime: LambdaRuntime,
        connections: Connections,
        idle_timeout_seconds: float,
        max_connection_seconds: float,
        select: Callable[[Deployment], Api | None] = agents_api,
    ) -> None:
        """``select``: which of the deployment's WebSocket APIs this serves (the agents')."""
        self._select = select
        self._deployment = deployment
        self._api: Api | None = select(deployment)
        self._stage = deployment.environment
        self._runtime = runtime
        self._connections = connections
        self._idle = idle_timeout_seconds
        self._max = max_connection_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        self._deleted: set[str] = set()  # ids of APIs deleted under their open connections

    def reconfigure(self, deployment: Deployment) -> None:
        """A new deployment of the environment: new connections and new messages get its
        routes, integrations, authorizer and stage variables; what is in flight finishes with
        what it started with."""
        self._deployment = deployment
        self._api = self._select(deployment)
        if self._api is not None:
            self._deleted.discard(self._api.api_id)

    def close_deleted(self, reason: str) -> int:
        """The API was deleted (its stack, a relaunch): close every open connection with 1001
        and ``reason``, invoking no ``$disconnect`` (the API that would run it is gone), and
        say how many there were."""
        if self._api is not None:
            self._deleted.add(self._api.api_id)
        connections = self._connections.all()
        for connection in connections:
            self._deleted.add(connection.caller.api_id)
            connection.transport.close(GOING_AWAY, reason)
        return len(connections)

    def _execute_api_arn(self, api: Api, resource: str) -> str:
        d = self._deployment
        return f"arn:aws:execute-api:{d.region}:{d.account_id}:{api.api_id}/{resource}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        since = access_log.started()
        api = self._api  # a reconfigure meanwhile applies to the next connection
        if api is None:
            access_log.line("WS $connect", 404, since, "no such API deployed")
            return answers.answer(answers.NOT_FOUND)
        handshake = handshake_checker().accept(
            Request(request.raw_path, Headers(request.headers.items()))
        )
        if handshake.status_code != 101:
            access_log.line("WS $connect", handshake.status_code, since, "bad handshake")
            return web.Response(status=handshake.status_code, body=bytes(handshake.body))
        if self._stage not in api.stages:
            access_log.line("WS $connect", 403, since, f"stage {self._stage} is not deployed")
            return answers.answer(answers.FORBIDDEN)
        caller = Caller(
            api_id=api.api_id,
            stage=self._stage,
            domain_name=request.url.host or "",
            connection_id=aws_id(),
            connected_at=epoch_ms(),
            source_ip=request.remote or "",
            user_agent=request.headers.get("User-Agent", ""),
        )
        try:
            authorizer, extra_headers = await self._connect(api, request, caller)
        except Refused as refusal:
            detail = f"{caller.connection_id} {refusal}"
            access_log.line("WS $connect", refusal.status, since, detail)
            return _refusal(refusal.status)

        response = web.StreamResponse(status=101)
        for name, value in handshake.headers.raw_items():
            if name.lower() != "date":  # aiohttp writes its own
                response.headers[name] = value
        response.headers.update(extra_headers)
        try:
            await response.prepare(request)
        except ConnectionResetError:
            pass
        if request.transport is None or request.transport.is_closing():
            access_log.line("WS $connect", 499, since, f"{caller.connection_id} client went away")
            return response
        transport = WebSocketTransport(request.transport)
        request.protocol.set_parser(transport)  # from here on, websockets reads the frames
        request.protocol.keep_alive(False)
        connection = Connection(caller, transport, authorizer)
        self._connections.add(connection)
        access_log.line("WS $connect", 101, since, caller.connection_id)
        try:
            await self._serve(connection)
        finally:
            self._connections.remove(connection)
            await self._disconnect(connection)
        return response

    async def _connect(
        self, api: Api, request: web.Request, caller: Caller
    ) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """Authorize and run ``$connect``: (authorizer context, 101 headers), or Refused."""
        raw_query = request.raw_path.partition("?")[2]
        query = parse_qsl(raw_query, keep_blank_values=True)
        headers = [
            *request.headers.items(),
            # What API Gateway adds to the client's own headers.
            ("X-Amzn-Trace-Id", trace_id()),
            ("X-Forwarded-For", caller.source_ip),
            ("X-Forwarded-Port", str(request.url.port or "")),
            ("X-Forwarded-Proto", request.scheme),
        ]
        route = api.routes.get("$connect")
        if route is None:
            return None, {}  # no $connect route: every connection is accepted
        authorizer = None
        if route.authorization_type == "CUSTOM":
            authorizer = await self._authorize(api, route, headers, query, caller)
        elif route.authorization_type == "AWS_IAM":
            try:  # the upgrade as the client sent it, signed by a key the emulator knows
                rules.check_iam_connect_signature(
                    request.raw_path.partition("?")[0], raw_query, list(request.headers.items())
                )
            except rules.Refused as refused:
                raise Refused(403, f"IAM: {refused.code}") from None
        elif route.authorization_type != "NONE":
            raise Refused(403, f"authorization type {route.authorization_type} is not supported")
        integration = api.integrations.get(route.integration_id or "")
        if integration is not None and integration.integration_type == "MOCK":
            # API Gateway answers from the request template: nothing is invoked.
            mocked = integration.mock_status()
            if mocked is None:
                raise Refused(500, "MOCK $connect integration names no statusCode")
            if not 200 <= mocked < 300:
                raise Refused(mocked, f"MOCK $connect answered {mocked}")
            return authorizer, {}
        outcome = await self._invoke(
            api, route, integration, connect_event(headers, query, caller, authorizer)
        )
        if outcome.status is Status.TIMEOUT:
            raise Refused(504, outcome.reason)
        if not outcome.ok:
            raise Refused(500, outcome.reason)
        answer = outcome.value
        status = answer.get("statusCode") if isinstance(answer, dict) else None
        if status is None:
            return authorizer, {}  # a proxy integration that returns no status accepts
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise Refused(500, f"$connect answered statusCode {status!r}")
        if not 200 <= status < 300:
            raise Refused(status, f"$connect answered {status}")
        returned = answer.get("headers") if isinstance(answer.get("headers"), dict) else {}
        extra = {
            name: str(returned[key])
            for name in _CONNECT_RESPONSE_HEADERS
            for key in returned
            if key.lower() == name.lower()
        }
        return authorizer, extra

    async def _authorize(
        self,
        api: Api,
        route: Route,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
        caller: Caller,
    ) -> dict[str, Any]:
        authorizer = api.authorizers.get(route.authorizer_id or "")
        if authorizer is None or authorizer.authorizer_type != "REQUEST":
            raise Refused(500, f"$connect names no REQUEST authorizer ({route.authorizer_id})")
        lower_headers = {name.lower(): value for name, value in headers}
        query_map = dict(query)
        missing = [
            source
            for source in authorizer.identity_sources
            if not _identity_present(source, lower_headers, query_map)
        ]
        if missing:
            raise Refused(401, f"identity source {missing[0]} missing")
        method_arn = self._execute_api_arn(api, f"{self._stage}/$connect")
        event = authorizer_event(
            method_arn, headers, query, api.stages.get(self._stage, {}), caller
        )
        outcome = await self._runtime.invoke(
            authorizer.function_arn,
            event,
            self._execute_api_arn(api, f"authorizers/{authorizer.authorizer_id}"),
            MAX_INTEGRATION_MS,
        )
        if outcome.status is Status.RAISED and outcome.error_message == "Unauthorized":
            # API Gateway's convention: raising "Unauthorized" is a 401; other errors are 500s.
            raise Refused(401, "authorizer raised Unauthorized")
        if not outcome.ok:
            raise Refused(500, outcome.reason)
        if not isinstance(outcome.value, dict) or not iam.policy_allows_invoke(
            outcome.value.get("policyDocument"), method_arn
        ):
            _authorizer_context(outcome.value)  # a malformed answer is a 500, not a 403
            raise Refused(403, "authorizer policy does not allow execute-api:Invoke")
        return _authorizer_context(outcome.value)

    async def _invoke(
        self, api: Api, route: Route, integration: Integration | None, event: dict[str, Any]
    ) -> Outcome:
        if integration is None:
            return Outcome(Status.ERROR, reason=f"route {route.key} targets {route.target!r}")
        return await self._runtime.invoke(
            integration.function_arn,
            event,
            self._execute_api_arn(api, f"{self._stage}/{route.key}"),
            integration_timeout_ms(integration),
        )

    async def _serve(self, connection: Connection) -> None:
        """Route every message until the connection closes; enforce idle and lifetime limits."""
        loop = asyncio.get_running_loop()
        closing = False
        while True:
            timeout = None
            if not closing:
                deadline = min(connection.last_active + self._idle, connection.opened + self._max)
                timeout = max(0.0, deadline - loop.time())
            try:
                message = await asyncio.wait_for(connection.transport.receive(), timeout)
            except TimeoutError:
                connection.transport.close(GOING_AWAY, "Going away")
                closing = True
                continue
            if message is None:
                return
            connection.touch()
            task = asyncio.create_task(self._route(connection, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _route(self, connection: Connection, message: Message) -> None:
        since = access_log.started()
        api = self._api
        if api is None:
            self._tell(connection, "Forbidden", aws_id())
            return
        key = selected_route_key(api.route_selection_expression, message)
        route = api.routes.get(key) if key not in (None, "$connect", "$disconnect") else None
        route = route or api.routes.get("$default")
        request_id = aws_id()
        if route is None:
            self._tell(connection, "Forbidden", request_id)
            access_log.line(f"WS {key or '$default'}", 403, since, connection.connection_id)
            return
        body = message.data.decode() if message.is_text else base64.b64encode(message.data).decode()
        event = message_event(
            body,
            not message.is_text,
            route.key,
            connection.caller,
            connection.authorizer,
            request_id,
        )
        integration = api.integrations.get(route.integration_id or "")
        outcome = await self._invoke(api, route, integration, event)
        if outcome.status is Status.TIMEOUT:
            self._tell(connection, "Endpoint request timed out", request_id)
            access_log.line(
                f"WS {route.key}", 504, since, f"{connection.connection_id} {outcome.reason}"
            )
        elif not outcome.ok:
            self._tell(connection, "Internal server error", request_id)
            access_log.line(
                f"WS {route.key}", 500, since, f"{connection.connection_id} {outcome.reason}"
            )
        else:
            # The handler's answer goes nowhere: no route response is configured.
            access_log.line(f"WS {route.key}", 200, since, connection.connection_id)

    def _tell(self, connection: Connection, message: str, request_id: str) -> None:
        """API Gateway's own error message to the client, on the socket."""
        if connection.transport.is_open:
            text = json.dumps(
                {
                    "message": message,
                    "connectionId": connection.connection_id,
                    "requestId": request_id,
                }
            )
            connection.transport.send(text.encode())

    async def _disconnect(self, connection: Connection) -> None:
        """``$disconnect`` once, best effort: its failure is logged, never raised."""
        since = access_log.started()
        code, reason = connection.transport.close_status()
        api = self._api
        route = api.routes.get("$disconnect") if api is not None else None
        if (
            api is None
            or connection.caller.api_id in self._deleted
            or (connection.caller.api_id != api.api_id)
        ):
            route = None  # its API is gone, and its $disconnect route with it
        if route is None:
            access_log.line("WS closed", code, since, connection.connection_id)
            return
        try:
            outcome = await self._invoke(
                api,
                route,
                api.integrations.get(route.integration_id or ""),
                disconnect_event(code, reason, connection.caller, connection.authorizer),
            )
            detail = "" if outcome.ok else f" ({outcome.reason})"
        except Exception as error:  # noqa: BLE001 - $disconnect never raises out
            detail = f" ({type(error).__name__})"
        access_log.line("WS $disconnect", code, since, connection.connection_id + detail)

    async def close_all(self, timeout: float = 3.0) -> None:
        """On shutdown: close every connection as API Gateway going away would, and give the
        clients time to answer (aiohttp stops reading sockets once it shuts down)."""
        for connection in self._connections.all():
            connection.transport.close(GOING_AWAY, "Going away")
        deadline = asyncio.get_running_loop().time() + timeout
        while self._connections.all() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
