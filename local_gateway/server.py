"""One loopback port, four APIs, told apart by the Host header and the path:

Host 127.0.0.1 / [::1] (the WebSocket APIs' own endpoints)
    /<stage>                    WebSocket upgrade          -> WebSocketApi (agents)
    /<stage>/@connections/<id>  POST / GET / DELETE        -> ManagementApi
    /<answers-api-id>/<stage>   WebSocket upgrade (SigV4)  -> WebSocketApi (answers)
    /<answers-api-id>/<stage>/@connections/<id>            -> its ManagementApi
    anything else                                          -> 404
(on AWS each API has its own host, <api-id>.execute-api...; here the answers API's id is the
first segment of the path, as a name under *.localhost would not resolve for the functions)
Host <subdomain>.localhost where a custom domain maps the REST API (rest_api.py)
    anything                                               -> RestEdge (streamed)
Host localhost or <api-id>.execute-api.localhost (the HTTP API's own endpoint), or
<subdomain>.localhost where a custom domain maps the HTTP API (any host that is not a bare
address; http_api.py says which reach it)
    anything                                               -> HttpApi

While the environment's stacks are gone, or being relaunched, every request is answered 503
(follow.py: the gateway follows the environment while it runs).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
from aiohttp import web
from tunnel_shared.limits import IDLE_TIMEOUT_SECONDS, MAX_CONNECTION_SECONDS

from aws_fidelity import rules
from local_gateway import access_log, answers, browser_guard, deployment, follow
from local_gateway.connections import Connections
from local_gateway.http_api import MAX_BODY_BYTES, HttpApi, local_public_url_format
from local_gateway.lambda_runtime import LambdaRuntime, pass_env_names
from local_gateway.management_api import ManagementApi
from local_gateway.rest_api import RestEdge
from local_gateway.websocket_api import WebSocketApi, answers_api

REPO_ROOT = Path(__file__).resolve().parent.parent
# AWS allows 10,240 bytes of request line and headers; aiohttp's default per line is 8,190.
MAX_HEADER_BYTES = 10_240


@dataclass(frozen=True)
class Settings:
    port: int = 4567  # 0: any; bind() picks it and gives the settings start() needs
    host: str = "127.0.0.1"
    environment: str = "dev"
    idle_timeout_seconds: float = IDLE_TIMEOUT_SECONDS
    max_connection_seconds: float = MAX_CONNECTION_SECONDS

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connections_endpoint(self) -> str:
        return f"{self.base_url}/{self.environment}"

    def answers_path(self, api_id: str) -> str:
        """The answers API's stage, here: its id stands for its host."""
        return f"/{api_id}/{self.environment}"

    def answers_url(self, api_id: str) -> str:
        """Where forwarding connects for its answers (ANSWERS_URL)."""
        return f"ws://{self.host}:{self.port}{self.answers_path(api_id)}"

    def answers_endpoint(self, api_id: str) -> str:
        """The answers API's @connections, for response (ANSWERS_ENDPOINT)."""
        return f"{self.base_url}{self.answers_path(api_id)}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):  # [::1]:4567
        return host_header.partition("]")[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _is_bare(hostname: str) -> bool:
    """The WebSocket API's own endpoint: an address, no name (``localhost`` is the HTTP
    API's)."""
    if hostname == "":
        return True
    try:
        ipaddress.ip_address(hostname.strip("[]"))
        return True
    except ValueError:
        return False


def public_url_format(deployed: deployment.Deployment, port: int) -> str:
    """Where the public reaches a tunnel here: the deployed form, with local names."""
    deployed_format = next(
        (
            f.environment["PUBLIC_URL_FORMAT"]
            for f in deployed.functions.values()
            if f and "PUBLIC_URL_FORMAT" in f.environment
        ),
        "",
    )
    return local_public_url_format(deployed_format, deployed.http.api_id, port)


class Gateway:
    def __init__(self, settings: Settings, deployed: deployment.Deployment, lam: Any) -> None:
        """``lam``: a boto3 Lambda client for the account ``deployed`` was read from."""
        self.settings = settings
        self.deployed = deployed  # what is served: follow.py replaces it as it changes
        # Why every request is answered 503 (the stacks are gone), or None.
        self.unavailable: str | None = None
        self.public_url_format = public_url_format(deployed, settings.port)
        self.runtime = LambdaRuntime(
            deployed, lam, overrides=self._overrides(), pass_env=pass_env_names(os.environ)
        )
        self.connections = Connections()
        self.websocket = WebSocketApi(
            deployed,
            self.runtime,
            self.connections,
            settings.idle_timeout_seconds,
            settings.max_connection_seconds,
        )
        self.http = HttpApi(deployed, self.runtime)
        self.rest = RestEdge(self.runtime, deployed) if deployed.rest else None
        self.management = ManagementApi(self.connections)
        # The internal answers API: its own connections, so neither API's @connections reaches
        # the other's (as on AWS, where each is its own API).
        self.answers_connections = Connections()
        self.answers = WebSocketApi(
            deployed,
            self.runtime,
            self.answers_connections,
            settings.idle_timeout_seconds,
            settings.max_connection_seconds,
            select=answers_api,
        )
        self.answers_management = ManagementApi(self.answers_connections)

    def _overrides(self) -> dict[str, str]:
        # The functions reach this gateway's @connections and name its public URLs (only those
        # deployed with these variables get them); forwarding connects to its answers API here.
        overrides = {
            "CONNECTIONS_ENDPOINT": self.settings.connections_endpoint,
            "PUBLIC_URL_FORMAT": self.public_url_format,
        }
        answers = self.deployed.answers
        if answers is not None:
            overrides["ANSWERS_URL"] = self.settings.answers_url(answers.api_id)
            overrides["ANSWERS_ENDPOINT"] = self.settings.answers_endpoint(answers.api_id)
        return overrides

    async def take(self, new: deployment.Deployment) -> None:
        """Serve ``new`` (a new deployment of the environment) from the next request on: the
        functions whose workers would start differently get new ones first (follow.py)."""
        self.public_url_format = public_url_format(new, self.settings.port)
        self.deployed = new
        await self.runtime.reconfigure(new, self._overrides())
        self.websocket.reconfigure(new)
        self.answers.reconfigure(new)
        self.http = HttpApi(new, self.runtime)
        self.rest = RestEdge(self.runtime, new) if new.rest else None

    def app(self) -> web.Application:
        application = web.Application(client_max_size=MAX_BODY_BYTES)
        application.router.add_route("*", "/{tail:.*}", self.dispatch)
        return application

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        hostname = _hostname(request.headers.get("Host", ""))
        if self.unavailable is not None:
            since = access_log.started()
            access_log.line(f"{request.method} {hostname}{request.path}", 503, since)
            return answers.answer((503, self.unavailable))
        if not _is_bare(hostname):
            edge = self.rest.aws_host(hostname) if self.rest is not None else None
            if edge is not None:
                return await self.rest.handle(request, edge)  # type: ignore[union-attr]
            return await self.http.handle(request, hostname)
        stage_path = f"/{self.settings.environment}"
        raw_path = request.raw_path.partition("?")[0]
        if raw_path in (stage_path, stage_path + "/") and request.method == "GET":
            return await browser_guard.guarded(request, self.websocket.handle)
        prefix = f"{stage_path}/@connections/"
        if raw_path.startswith(prefix) and "/" not in raw_path[len(prefix) :]:
            connection_id = unquote(raw_path[len(prefix) :])
            return await browser_guard.guarded(request, self.management.handle, connection_id)
        answers_deployed = self.deployed.answers
        if answers_deployed is not None:
            answers_path = self.settings.answers_path(answers_deployed.api_id)
            if raw_path in (answers_path, answers_path + "/") and request.method == "GET":
                return await browser_guard.guarded(request, self.answers.handle)
            prefix = f"{answers_path}/@connections/"
            if raw_path.startswith(prefix) and "/" not in raw_path[len(prefix) :]:
                connection_id = unquote(raw_path[len(prefix) :])
                return await browser_guard.guarded(
                    request, self.answers_management.handle, connection_id
                )
        since = access_log.started()
        access_log.line(f"{request.method} {hostname}{raw_path}", 404, since)
        return answers.answer(answers.NOT_FOUND)


def bind(settings: Settings) -> tuple[socket.socket, Settings]:
    """A socket bound to the settings' host and port (0: one the OS picks, no other process can
    take it before we serve), and the settings with the port it got: call it before ``start``,
    which gives the functions this gateway's URLs, and pass the socket to ``serve``."""
    addresses = socket.getaddrinfo(
        settings.host.strip("[]"), settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    family, kind, protocol, _, address = min(addresses, key=lambda a: a[0] != socket.AF_INET)
    listening = socket.socket(family, kind, protocol)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp's TCPSite
        listening.bind(address)
    except OSError:
        listening.close()
        raise
    return listening, replace(settings, port=int(listening.getsockname()[1]))


async def serve(gateway: Gateway, listening: socket.socket | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then close the WebSockets (each gets its $disconnect);
    follow the environment meanwhile (follow.py). The functions' workers and their unpacked
    code go with it, also when it cannot listen (OSError).

    On ``listening`` (from ``bind``) if given, else on the settings' host and port."""
    runner = web.AppRunner(
        gateway.app(),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=5,
        max_line_size=MAX_HEADER_BYTES,
        max_field_size=MAX_HEADER_BYTES,
    )
    try:
        await runner.setup()
        site = (
            web.SockSite(runner, listening)
            if listening is not None
            else web.TCPSite(runner, gateway.settings.host, gateway.settings.port)
        )
        await site.start()  # listening from here: the ready line below comes after
        following = asyncio.ensure_future(follow.Follower(gateway).run())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        settings = gateway.settings
        access_log.note(
            f"ready on {settings.base_url}: WebSocket ws://{settings.host}:{settings.port}/"
            f"{settings.environment}, HTTP {gateway.public_url_format}, "
            f"@connections {settings.connections_endpoint}/@connections"
        )
        try:
            await stop.wait()
        finally:
            following.cancel()
            await gateway.websocket.close_all()
            await gateway.answers.close_all()
    finally:
        await runner.cleanup()
        await gateway.runtime.shutdown()  # the functions' worker processes, their code


def start(settings: Settings) -> Gateway:
    """Read what was deployed, fetch each function's deployed code and start its worker (its own
    environment, its handler imported)."""
    session = boto3.session.Session()
    deployed = deployment.load(settings.environment, session)
    gateway = Gateway(settings, deployed, session.client("lambda"))
    began = time.monotonic()
    try:
        warnings = gateway.runtime.load()
    except BaseException:  # Ctrl-C while starting: no worker and no unpacked code left behind
        gateway.runtime.close()
        raise
    for warning in warnings:
        access_log.note(f"warning: {warning}")
    access_log.note(
        f"deployed code of {len(deployed.functions)} functions fetched and started in "
        f"{time.monotonic() - began:.2f} s"
    )
    apis = [("WebSocket", deployed.websocket), ("HTTP", deployed.http)]
    if deployed.answers is not None:
        apis.append(("answers", deployed.answers))
    for api_name, api in apis:
        for route in api.routes.values():
            integration = api.integrations.get(route.integration_id or "")
            target = integration.function_arn if integration else f"nothing ({route.target!r})"
            if integration is not None and integration.integration_type == "MOCK":
                target = f"MOCK ({route.authorization_type})"
            access_log.note(f"{api_name} {route.key} -> {target}")
    if settings.environment not in deployed.websocket.stages:
        access_log.note(f"warning: the WebSocket API has no stage {settings.environment}")
    if not deployed.http.stages:
        access_log.note("warning: the HTTP API has no stage")
    if deployed.http.disable_execute_api_endpoint:
        domains = ", ".join(sorted(deployed.http_domains)) or "none"
        access_log.note(f"the HTTP API's execute-api endpoint is disabled; its domains: {domains}")
    for warning in credential_warnings(os.environ):
        access_log.note(f"warning: {warning}")
    return gateway


def credential_warnings(environment: Mapping[str, str]) -> list[str]:
    """The functions sign their @connections calls with the gateway's own credentials, which
    the management API verifies against the emulator's (rules.KNOWN_CREDENTIALS)."""
    key = environment.get("AWS_ACCESS_KEY_ID", "")
    secret = environment.get("AWS_SECRET_ACCESS_KEY", "")
    if key and rules.KNOWN_CREDENTIALS.get(key) == secret:
        return []
    return [
        "the gateway's AWS credentials are not the emulator's: the functions get them, and their "
        "@connections calls will be refused (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to "
        "'testing')"
    ]
