"""The public REST API (environments with a custom domain), reached by the domain's host form:
``http://<subdomain>.localhost:<port>`` for ``<subdomain>.<domain>``, as the HTTP API's host form
was before the domain mapped the REST API.

A request becomes the REST API's v1 proxy event (``rest_event``) and goes to forwarding through
one seam, ``RestEdge.invoke_edge(event) -> (prelude, chunks)``: the prelude is what a streamed
Lambda integration sends before its delimiter (statusCode, headers, cookies), the chunks the
body as it comes. Today it is buffered (one synchronous invocation, the result split into a
prelude and one chunk); the streamed invocation replaces ``invoke_edge`` alone.

AWS's own answers (aws_fidelity.rules): an unusable integration answer or a failed invocation
502 ``{"message": "Internal server error"}`` (check_rest_proxy_answer); a body over the 10 MB
payload quota 413 before anything is invoked; a host the domain does not serve 404.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import CIMultiDict
from tunnel_shared.limits import STREAM_MAX_SECONDS

from aws_fidelity import rules
from local_gateway import access_log
from local_gateway.http_api import read_body
from local_gateway.http_events import _HOP_BY_HOP, is_text
from local_gateway.request_meta import aws_id, epoch_ms, request_time

Prelude = dict[str, Any]
Chunks = AsyncIterator[bytes]
# What the seam invokes: the v1 event in, forwarding's result (a JSON value) out; an exception
# for a failed invocation.
Invoker = Callable[[dict[str, Any]], Awaitable[Any]]


def rest_event(
    *,
    method: str,
    raw_target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    domain_name: str,
    stage: str,
    api_id: str,
    account_id: str,
    request_id: str,
    epoch_millis: int,
) -> dict[str, Any]:
    """The v1 proxy event of ``/{proxy+}`` (or ``/``): ``path`` as sent (REST APIs keep it
    percent-encoded), the query's values decoded, repeated ones in the multi-value maps, the
    single-value maps holding the last value ("Input format of a Lambda function for proxy
    integration", set-up-lambda-proxy-integrations.html)."""
    from urllib.parse import parse_qsl

    path, _, query = raw_target.partition("?")
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        multi_query.setdefault(key, []).append(value)
    content_type = next((v for n, v in headers if n.lower() == "content-type"), None)
    text = None
    if is_text(content_type):
        try:
            text = body.decode()
        except UnicodeDecodeError:
            text = None
    proxy = path.lstrip("/")
    return {
        "resource": "/{proxy+}" if proxy else "/",
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": proxy} if proxy else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".")[0],
            "httpMethod": method,
            "identity": {"sourceIp": source_ip},
            "path": path,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": request_time(epoch_millis),
            "requestTimeEpoch": epoch_millis,
            "resourcePath": "/{proxy+}" if proxy else "/",
            "stage": stage,
        },
        "body": (text if text is not None else base64.b64encode(body).decode()) if body else None,
        "isBase64Encoded": bool(body) and text is None,
    }


def _error(refused: rules.Refused) -> web.Response:
    return web.Response(
        status=refused.status,
        body=json.dumps({"message": refused.message}),
        content_type="application/json",
        headers={"x-amzn-errortype": refused.code},
    )


class RestEdge:
    """Serves one REST API stage through the custom domain's host form."""

    def __init__(
        self, invoke: Invoker, *, api_id: str, stage: str, account_id: str, domains: set[str]
    ) -> None:
        self._invoke = invoke
        self.api_id = api_id
        self.stage = stage
        self.account_id = account_id
        self.domains = domains  # the AWS names mapped to the stage: "*.tunnel.test"

    def serves(self, aws_host: str) -> bool:
        """Only exactly ``<label>.<domain>`` of a wildcard domain mapped to the stage."""
        label, _, parent = aws_host.partition(".")
        return bool(label) and f"*.{parent}" in self.domains

    async def invoke_edge(self, event: dict[str, Any]) -> tuple[Prelude, Chunks]:
        """THE SEAM: forwarding invoked with ``event``; its prelude (statusCode, headers,
        cookies) and its body as chunks. Buffered: one invocation within the stream's 15
        minutes, the result split. rules.Refused (502) for a failed or unusable answer."""
        try:
            result = await self._invoke(event)
        except Exception:  # a failed invocation: API Gateway's own 502, no internals
            raise rules.Refused(
                "InternalServerErrorException", rules.REST_INTEGRATION_FAILED, 502
            ) from None
        rules.check_rest_proxy_answer(result)
        prelude = {k: result[k] for k in ("statusCode", "headers", "cookies") if k in result}
        multi = result.get("multiValueHeaders") or {}
        if multi:
            prelude["multiValueHeaders"] = multi
        body = result.get("body") or ""
        if not isinstance(body, str):
            raise rules.Refused("InternalServerErrorException", rules.REST_INTEGRATION_FAILED, 502)
        data = base64.b64decode(body) if result.get("isBase64Encoded") is True else body.encode()

        async def chunks() -> Chunks:
            if data:
                yield data

        return prelude, chunks()

    async def handle(self, request: web.Request, aws_host: str) -> web.StreamResponse:
        since = access_log.started()
        request_id = aws_id()
        try:
            body = await read_body(request)  # the 10 MB payload quota, as the HTTP API's
        except rules.Refused as refused:
            return web.Response(status=413, text=refused.message)
        headers = [(n, v) for n, v in request.headers.items()]
        headers += [
            ("X-Forwarded-For", request.remote or ""),
            ("X-Forwarded-Proto", request.scheme),
        ]
        event = rest_event(
            method=request.method,
            raw_target=request.raw_path,
            headers=headers,
            body=body,
            source_ip=request.remote or "",
            domain_name=aws_host,
            stage=self.stage,
            api_id=self.api_id,
            account_id=self.account_id,
            request_id=request_id,
            epoch_millis=epoch_ms(),
        )
        try:
            prelude, chunks = await self.invoke_edge(event)
        except rules.Refused as refused:
            access_log.line(f"{request.method} {aws_host}{request.path}", refused.status, since)
            return _error(refused)
        pairs = [
            (str(k), str(v))
            for k, v in (prelude.get("headers") or {}).items()
            if str(k).lower() not in _HOP_BY_HOP
        ]
        for name, values in (prelude.get("multiValueHeaders") or {}).items():
            pairs += [(str(name), str(v)) for v in values]
        pairs += [("set-cookie", str(c)) for c in prelude.get("cookies") or []]
        response = web.StreamResponse(status=int(prelude["statusCode"]), headers=CIMultiDict(pairs))
        response.headers["x-amzn-requestid"] = request_id
        await response.prepare(request)
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        access_log.line(f"{request.method} {aws_host}{request.path}", response.status, since)
        return response


# The streamed integration's own ceiling: the buffered seam gives the invocation as long.
EDGE_TIMEOUT_MS = STREAM_MAX_SECONDS * 1000
