"""The HTTP API, reached as AWS reaches it: one request, one integration call.

Names that reach it (aws_fidelity.rules decides; a local name stands for the AWS one):
- its own endpoint, ``<api-id>.execute-api.<region>.amazonaws.com``, as
  ``http://localhost:<port>`` (the public URLs the functions are given: every HTTP client
  resolves ``localhost``, while Python's and Node's resolvers on Debian do not resolve
  ``*.localhost``) and as ``http://<api-id>.execute-api.localhost:<port>`` (curl and browsers):
  a named stage is the first path segment and stays in ``rawPath``; the ``$default`` stage is
  served at the root;
- a custom domain mapped to it, ``http://<subdomain>.localhost:<port>`` for
  ``<subdomain>.<domain>`` (only where one is deployed, as in prod).
Any other Host is not an address of the API: 404. With ``DisableExecuteApiEndpoint`` its own
endpoint answers 404 too, and only its custom domains serve it (check_execute_api_endpoint).
The function sees the request as API Gateway gives it: ``headers.host`` the Host the client
sent (``localhost:4567``: on AWS, the API's own name or the custom domain, whichever the client
used), ``requestContext.domainName`` that name without its port, ``x-forwarded-proto`` this
gateway's scheme (``http``) and ``x-forwarded-port`` the port it was reached on, the client's
own values of both replaced. Never an AWS name the client did not use: the app at the end of a
tunnel builds its URLs, redirects and CSRF checks from these.

Integration failures become API Gateway's own answers, never a traceback: a handler error or an
unusable answer 500, a result over Lambda's 6 MB 502, no answer within the route's timeout
(29 s, at most 30 s) 503, no matching route 404. A body over 10 MB is answered 413 in plain text
before anything else, an event over Lambda's 6 MB 413 ``Request Too Long`` (aws_fidelity.rules:
check_http_api_payload, check_invocation_request, check_invocation_response).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict
from tunnel_shared import names
from tunnel_shared.limits import HTTP_API_PAYLOAD_BYTES, HTTP_API_TIMEOUT_SECONDS

from aws_fidelity import rules
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

# The HTTP API's payload limit, which aiohttp's reader must allow (rules.check_http_api_payload
# refuses what is over it; Lambda's 6 MB applies to the event, checked when invoking).
MAX_BODY_BYTES = HTTP_API_PAYLOAD_BYTES
MAX_INTEGRATION_MS = HTTP_API_TIMEOUT_SECONDS * 1000
LOCAL_SUFFIX = ".localhost"


@dataclass(frozen=True)
class Entry:
    """Where a request enters the API: the AWS host name, the stage, the path routes match,
    and the rawPath the function receives."""

    host: str
    stage: str
    route_path: str
    raw_path: str


# The HTTP API's own endpoint, under the one name every client resolves to loopback.
OWN_ENDPOINT_HOST = "localhost"


def local_endpoint(api_id: str, port: int) -> str:
    """An API's own endpoint as this gateway serves it, by the API's name (an alias of
    ``http://localhost:<port>`` for the HTTP API)."""
    return f"http://{api_id}.execute-api{LOCAL_SUFFIX}:{port}"


def local_public_url_format(deployed: str, api_id: str, port: int) -> str:
    """The deployed ``PUBLIC_URL_FORMAT`` with this gateway's names for the AWS ones:
    ``https://{subdomain}.<domain>`` -> ``http://{subdomain}.localhost:<port>``, and
    ``https://<api>.execute-api.<region>.amazonaws.com/{subdomain}`` ->
    ``http://localhost:<port>/{subdomain}`` (``api_id``'s own endpoint)."""
    if deployed.startswith("https://{subdomain}."):
        return f"http://{{subdomain}}{LOCAL_SUFFIX}:{port}"
    return f"http://{OWN_ENDPOINT_HOST}:{port}/{{subdomain}}"


async def read_body(request: web.Request) -> bytes:
    """The request's body; rules.Refused once it is over the HTTP API's limit, as its
    Content-Length says or, chunked, as soon as that much has arrived (the rest is not read)."""
    rules.check_http_api_payload(request.content_length or 0)
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        rules.check_http_api_payload(len(body))
    return bytes(body)


def raw_path_of(raw_target: str) -> str:
    """The percent-decoded path of a request target, as HTTP APIs deliver it."""
    return raw_path(HttpRequest("", raw_target, "", [], b"", "", ""))


class HttpApi:
    def __init__(self, deployment: Deployment, runtime: LambdaRuntime) -> None:
        self._deployment = deployment
        self._api = deployment.http
        self._runtime = runtime
        self._own_host = names.execute_api_host(self._api.api_id, deployment.region)

    def serves(self, hostname: str) -> bool:
        return self._aws_host(hostname) is not None

    def _aws_host(self, hostname: str) -> str | None:
        """The AWS name a request's Host stands for, if it reaches this API."""
        host = hostname.lower()
        if host in (OWN_ENDPOINT_HOST, f"{self._api.api_id}.execute-api{LOCAL_SUFFIX}"):
            host = self._own_host
        elif host.endswith(LOCAL_SUFFIX):
            label = host.removesuffix(LOCAL_SUFFIX)
            wildcards = [d for d in self._deployment.http_domains if d.startswith("*.")]
            if "." not in label and wildcards:
                host = f"{label}.{wildcards[0][2:]}"
        return rules.http_api_host(
            host, self._api.api_id, self._deployment.region, set(self._deployment.http_domains)
        )

    def _entry(self, hostname: str, path: str) -> Entry | None:
        """Where the request enters, None if it reaches no stage of the API; rules.Refused if
        it comes by an endpoint the API has disabled."""
        host = self._aws_host(hostname)
        if host is None:
            return None
        if host == self._own_host:
            rules.check_execute_api_endpoint(self._api.disable_execute_api_endpoint)
            found = rules.http_api_stage(set(self._api.stages), path)
            if found is None:
                return None
            stage, delivered = found
            prefix = "" if stage == rules.DEFAULT_STAGE else f"/{stage}"
            return Entry(host, stage, path[len(prefix) :] or "/", delivered)
        stage = self._mapped_stage(host)
        if stage not in self._api.stages:
            return None
        return Entry(host, stage, path, rules.http_api_mapped_path(stage, path))

    def _mapped_stage(self, host: str) -> str:
        domains = self._deployment.http_domains
        if host in domains:
            return domains[host]
        parent = host.partition(".")[2]
        return domains.get(f"*.{parent}", "")

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
            body = await read_body(request)
        except rules.Refused as refused:
            return answers.content_length_exceeded(refused)
        try:
            entry = self._entry(domain_name, raw_path_of(request.raw_path))
        except rules.Refused as refused:
            return answers.answer((refused.status, refused.message))
        if entry is None:
            return answers.answer(answers.NOT_FOUND)
        http_request = HttpRequest(
            method=request.method,
            raw_target=request.raw_path,
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
            headers=self._forwarded_headers(request),
            body=body,
            source_ip=request.remote or "",
            domain_name=domain_name.lower(),
        )
        match = select(self._api.routes.values(), request.method, entry.route_path)
        if match is None:
            return answers.answer(answers.NOT_FOUND)
        route = match.route
        integration = self._api.integrations.get(route.integration_id or "")
        if integration is None:
            access_log.note(f"HTTP route {route.key} targets {route.target!r}: no such integration")
            return answers.answer(answers.INTERNAL_ERROR)
        event = request_event(
            http_request,
            path=entry.raw_path,
            route_key=route.key,
            path_parameters=match.path_parameters,
            stage=entry.stage,
            stage_variables=self._api.stages[entry.stage],
            api_id=self._api.api_id,
            account_id=self._deployment.account_id,
            request_id=request_id,
            epoch_millis=epoch_ms(),
        )
        timeout_ms = min(integration.timeout_ms or MAX_INTEGRATION_MS, MAX_INTEGRATION_MS)
        source_arn = self._source_arn(entry.stage, route.key, request.method)
        outcome = await self._runtime.invoke(
            integration.function_arn, event, source_arn, timeout_ms
        )
        if outcome.status is Status.TIMEOUT:
            return answers.answer(answers.UNAVAILABLE)
        if outcome.status is Status.TOO_LARGE and outcome.refused is not None:
            access_log.note(f"HTTP {route.key}: {outcome.reason}")
            return answers.request_too_long(outcome.refused)
        if outcome.status is Status.RESULT_TOO_LARGE:
            access_log.note(f"HTTP {route.key}: {outcome.reason}")
            return answers.answer(answers.BAD_GATEWAY)
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

    def _source_arn(self, stage: str, route_key: str, method: str) -> str:
        """What API Gateway invokes as, which the function's permission must match:
        ``<api>/<stage>/$default`` or ``<api>/<stage>/GET/items/{id}``."""
        d = self._deployment
        route = "$default" if route_key == "$default" else method + route_key.partition(" ")[2]
        api = self._api.api_id
        return f"arn:aws:execute-api:{d.region}:{d.account_id}:{api}/{stage}/{route}"

    def _forwarded_headers(self, request: web.Request) -> list[tuple[str, str]]:
        """The client's headers, its Host as sent, plus what API Gateway adds (it appends to
        X-Forwarded-For, and sets -Port and -Proto to where the request arrived: here the
        socket's port, not the one a Host header names)."""
        added = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
        headers = [(n, v) for n, v in request.headers.items() if n.lower() not in added]
        forwarded_for = [*request.headers.getall("X-Forwarded-For", []), request.remote or ""]
        headers.append(("x-forwarded-for", ", ".join(forwarded_for)))
        headers.append(("x-forwarded-port", _arrival_port(request)))
        headers.append(("x-forwarded-proto", request.scheme))
        if "X-Amzn-Trace-Id" not in request.headers:
            headers.append(("x-amzn-trace-id", trace_id()))
        return headers


def _arrival_port(request: web.Request) -> str:
    """The port the request reached this gateway on."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return str(sockname[1])
    return str(request.url.port or "")
