"""The HTTP API at ``http://<subdomain>.localhost:<port>``: one request, one integration call.

It answers as an HTTP API behind the prod custom domain (``*.<domain>`` mapped to the
environment's stage): the path has no stage prefix, ``requestContext.stage`` is the stage.
Integration failures become API Gateway's own answers, never a traceback: a handler error or an
unusable answer 500, no answer within the route's timeout (29 s, at most 30 s) 503, a body over
10 MB or an event over Lambda's 6 MB 413, no matching route 404.
"""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict
from tunnel_shared.limits import HTTP_API_TIMEOUT_SECONDS

from local_gateway import access_log, answers
from local_gateway.deployment import Deployment
from local_gateway.http_events import (
    BadResponse,
    HttpRequest,
    raw_path,
    request_event,
    response_from,
)
from local_gateway.http_routes import select
from local_gateway.lambda_runtime import LambdaRuntime, Status
from local_gateway.request_meta import aws_id, epoch_ms, trace_id

# The HTTP API's payload limit (Lambda's 6 MB applies to the event, checked when invoking).
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_INTEGRATION_MS = HTTP_API_TIMEOUT_SECONDS * 1000


class HttpApi:
    def __init__(self, deployment: Deployment, runtime: LambdaRuntime) -> None:
        self._deployment = deployment
        self._api = deployment.http
        self._stage = deployment.environment
        self._runtime = runtime

    async def handle(self, request: web.Request, domain_name: str) -> web.Response:
        since = access_log.started()
        request_id = aws_id()
        response = await self._answer(request, domain_name, request_id)
        response.headers["apigw-requestid"] = request_id
        path = request.raw_path.partition("?")[0]  # query strings may carry secrets: not logged
        access_log.line(f"{request.method} {domain_name}{path}", response.status, since)
        return response

    async def _answer(
        self, request: web.Request, domain_name: str, request_id: str
    ) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return answers.answer(answers.TOO_LARGE)
        if self._stage not in self._api.stages:
            return answers.answer(answers.NOT_FOUND)
        http_request = HttpRequest(
            method=request.method,
            raw_target=request.raw_path,
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
            headers=self._forwarded_headers(request),
            body=body,
            source_ip=request.remote or "",
            domain_name=domain_name,
        )
        match = select(self._api.routes.values(), request.method, raw_path(http_request))
        if match is None:
            return answers.answer(answers.NOT_FOUND)
        route = match.route
        integration = self._api.integrations.get(route.integration_id or "")
        if integration is None:
            access_log.note(f"HTTP route {route.key} targets {route.target!r}: no such integration")
            return answers.answer(answers.INTERNAL_ERROR)
        event = request_event(
            http_request,
            route_key=route.key,
            path_parameters=match.path_parameters,
            stage=self._stage,
            stage_variables=self._api.stages[self._stage],
            api_id=self._api.api_id,
            account_id=self._deployment.account_id,
            request_id=request_id,
            epoch_millis=epoch_ms(),
        )
        timeout_ms = min(integration.timeout_ms or MAX_INTEGRATION_MS, MAX_INTEGRATION_MS)
        source_arn = self._source_arn(route.key, request.method)
        outcome = await self._runtime.invoke(
            integration.function_arn, event, source_arn, timeout_ms
        )
        if outcome.status is Status.TIMEOUT:
            return answers.answer(answers.UNAVAILABLE)
        if outcome.status is Status.TOO_LARGE:
            return answers.answer(answers.TOO_LARGE)
        if not outcome.ok:
            access_log.note(f"HTTP {route.key}: {outcome.reason}")
            return answers.answer(answers.INTERNAL_ERROR)
        try:
            mapped = response_from(outcome.value, outcome.payload)
        except BadResponse as error:
            access_log.note(f"HTTP {route.key}: unusable integration answer: {error}")
            return answers.answer(answers.INTERNAL_ERROR)
        return web.Response(
            status=mapped.status, body=mapped.body, headers=CIMultiDict(mapped.headers)
        )

    def _source_arn(self, route_key: str, method: str) -> str:
        """What API Gateway invokes as, which the function's permission must match:
        ``<api>/<stage>/$default`` or ``<api>/<stage>/GET/items/{id}``."""
        d = self._deployment
        route = "$default" if route_key == "$default" else method + route_key.partition(" ")[2]
        api = self._api.api_id
        return f"arn:aws:execute-api:{d.region}:{d.account_id}:{api}/{self._stage}/{route}"

    def _forwarded_headers(self, request: web.Request) -> list[tuple[str, str]]:
        """The client's headers, plus what API Gateway adds (it appends to X-Forwarded-For)."""
        added = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
        headers = [(n, v) for n, v in request.headers.items() if n.lower() not in added]
        forwarded_for = [*request.headers.getall("X-Forwarded-For", []), request.remote or ""]
        headers.append(("x-forwarded-for", ", ".join(forwarded_for)))
        headers.append(("x-forwarded-port", str(request.url.port or "")))
        headers.append(("x-forwarded-proto", request.scheme))
        if "X-Amzn-Trace-Id" not in request.headers:
            headers.append(("x-amzn-trace-id", trace_id()))
        return headers
