"""The public REST API (environments with a custom domain), reached by the domain's host form:
``http://<subdomain>.localhost:<port>`` for ``<subdomain>.<domain>``, as the HTTP API's host form
was before the domain mapped the REST API.

A request passes the stage's web ACL (its rate rules, local_gateway.waf), becomes the REST
API's v1 proxy event (``rest_event``) and goes to forwarding as the streamed integration
invokes it (``ResponseTransferMode: STREAM``: ``LambdaRuntime.invoke_streaming``, with the
stream's limits): the prelude (statusCode, headers, cookies) is written as soon as the function
sends it, then each chunk as it is written. A stream that ends badly is cut (no last chunk); a
caller that goes away makes the function's next write fail.

AWS's own answers (aws_fidelity.rules): an invocation that gives no stream 502
``{"message": "Internal server error"}``, metadata without its delimiter 500
(check_stream_prelude); a body over the 10 MB payload quota 413 before anything is invoked; a
host the domain does not serve 404.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from multidict import CIMultiDict
from tunnel_shared.limits import STREAM_MAX_SECONDS

from aws_fidelity import rules
from local_gateway import access_log
from local_gateway.deployment import Deployment
from local_gateway.http_api import LOCAL_SUFFIX, read_body
from local_gateway.http_events import _HOP_BY_HOP
from local_gateway.lambda_runtime import LambdaRuntime, Outcome, StreamEnd, StreamPrelude
from local_gateway.request_meta import aws_id, epoch_ms, request_time
from local_gateway.waf import WebAcl

Prelude = dict[str, Any]
Chunks = AsyncIterator[bytes]


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
    binary_everything: bool = True,
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
    # With BinaryMediaTypes "*/*" (our REST API's) every body is base64; without a matching
    # binary type API Gateway hands the body on as text ("Working with binary media types for
    # REST APIs"): here text that is not UTF-8 is decoded with replacement, mangled as there.
    text = None
    if not binary_everything:
        text = body.decode(errors="replace")
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


class StreamFailed(Exception):
    """A started stream that did not end well: the caller's response is cut, not ended."""


class RestEdge:
    """Serves the REST API's stage through the custom domain's host form: a WAF web ACL's rate
    rules first (local_gateway.waf, where one is attached), then the v1 event to the proxy
    integration's function, its streamed answer written to the caller as it comes."""

    def __init__(self, runtime: LambdaRuntime, deployment: Deployment) -> None:
        rest = deployment.rest
        assert rest is not None
        self._runtime = runtime
        self._rest = rest
        self.api_id = rest.api_id
        self.stage = rest.stage
        self.account_id = deployment.account_id
        self.region = deployment.region
        self.domains = set(rest.domains)  # the AWS names mapped to the stage: "*.tunnel.test"
        self.waf = WebAcl(rest.web_acl) if rest.web_acl else None

    def aws_host(self, hostname: str) -> str | None:
        """The AWS name ``<label>.<domain>`` a local ``<label>.localhost`` stands for, if this
        stage serves it (only exactly one label under a wildcard domain mapped to it)."""
        host = hostname.lower()
        if host.endswith(LOCAL_SUFFIX):
            label = host.removesuffix(LOCAL_SUFFIX)
            wildcards = sorted(d for d in self.domains if d.startswith("*."))
            if "." in label or not label or not wildcards:
                return None
            host = f"{label}.{wildcards[0][2:]}"
        return host if self.serves(host) else None

    def serves(self, aws_host: str) -> bool:
        """Only exactly ``<label>.<domain>`` of a wildcard domain mapped to the stage."""
        label, _, parent = aws_host.partition(".")
        return bool(label) and f"*.{parent}" in self.domains

    def _source_arn(self, method: str, path: str) -> str:
        return (
            f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/"
            f"{method}/{path.lstrip('/')}"
        )

    async def invoke_edge(self, event: dict[str, Any]) -> tuple[Prelude, Chunks]:
        """Forwarding invoked as the streamed integration invokes it: its prelude (statusCode,
        headers, cookies) and its body as chunks, as they are written. rules.Refused for an
        invocation that gives no stream (API Gateway's own 502, or 500 for bad metadata);
        ``StreamFailed`` from the chunks when the stream ends badly."""
        streamed = self._runtime.invoke_streaming(
            self._rest.function_arn,
            event,
            self._source_arn(event["httpMethod"], event["path"]),
            EDGE_TIMEOUT_MS,
        )
        first = await anext(streamed)
        if isinstance(first, Outcome):
            if first.refused is not None:
                raise first.refused
            raise rules.Refused("InternalServerErrorException", rules.REST_INTEGRATION_FAILED, 502)
        assert isinstance(first, StreamPrelude)
        prelude: Prelude = {
            "statusCode": first.status,
            "headers": list(first.headers),
            "cookies": list(first.cookies),
        }

        async def chunks() -> Chunks:
            try:
                async for item in streamed:
                    if isinstance(item, bytes):
                        yield item
                    elif isinstance(item, StreamEnd) and not item.ok:
                        raise StreamFailed(item.reason or item.status.value)
            finally:
                await streamed.aclose()  # the caller went away: the function's writes fail

        return prelude, chunks()

    async def handle(self, request: web.Request, aws_host: str) -> web.StreamResponse:
        since = access_log.started()
        line = f"{request.method} {aws_host}{request.path}"  # never the query: it may hold secrets
        if self.waf is not None:
            pairs = list(request.headers.items())
            blocked = self.waf.check(request.remote or "", pairs, time.time())
            if blocked is not None:
                access_log.line(line, blocked.status, since)
                return blocked.to_aiohttp()
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
            binary_everything=self._rest.binary_everything,
        )
        try:
            prelude, chunks = await self.invoke_edge(event)
        except rules.Refused as refused:
            access_log.line(line, refused.status, since)
            return _error(refused)
        pairs = [
            (str(k), str(v)) for k, v in prelude["headers"] if str(k).lower() not in _HOP_BY_HOP
        ]
        pairs += [("set-cookie", str(c)) for c in prelude["cookies"]]
        response = web.StreamResponse(status=int(prelude["statusCode"]), headers=CIMultiDict(pairs))
        response.headers["x-amzn-requestid"] = request_id
        await response.prepare(request)
        try:
            async for chunk in chunks:
                await response.write(chunk)
        except StreamFailed as failed:
            # Cut, not ended: no last chunk, so the caller can tell it from success.
            access_log.line(f"{line} cut: {failed}", response.status, since)
            if request.transport is not None:
                request.transport.close()
            return response
        except (ConnectionResetError, asyncio.CancelledError):
            await chunks.aclose()  # the caller went away: forwarding's next write fails
            raise
        await response.write_eof()
        access_log.line(line, response.status, since)
        return response


# The streamed integration's own ceiling: the buffered seam gives the invocation as long.
EDGE_TIMEOUT_MS = STREAM_MAX_SECONDS * 1000
