"""The gateway's own control paths refuse web pages and foreign Host names
(``aws_fidelity.browser_guard``): the WebSocket handshake and ``@connections``, on the bare
host. A request there with an ``Origin`` or ``Sec-Fetch-*`` header (the agent, with
``websockets``, and boto3 send neither), or whose Host is not a loopback name, gets **403** and
one line of text, without ``Access-Control-*`` headers.

The public URLs, on names (``localhost``, ``<api-id>.execute-api.localhost``,
``<subdomain>.localhost``), are not guarded: they serve the tunnels to anyone, browsers
included, as on AWS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from aws_fidelity import browser_guard
from local_gateway import access_log

WHO = "the local API Gateway"


def refusal(request: web.Request) -> web.Response | None:
    """The 403 for a request from a web page or to a foreign Host; None for any other."""
    line = browser_guard.refusal(request.headers.items(), WHO)
    if line is None:
        return None
    access_log.line(f"{request.method} {request.path}", 403, access_log.started(), line)
    return web.Response(status=403, text=line + "\n")


async def guarded(
    request: web.Request,
    handler: Callable[..., Awaitable[web.StreamResponse]],
    *args: Any,
) -> web.StreamResponse:
    """``handler(request, *args)``, unless :func:`refusal` refuses the request."""
    refused = refusal(request)
    if refused is not None:
        return refused
    return await handler(request, *args)
