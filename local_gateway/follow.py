"""The gateway follows the environment it serves: what ``make local``, ``make sync-local`` and
``make local-down`` change while it runs, it serves without a restart.

Every ``FOLLOW_SECONDS`` it reads, cheaply (measured on an idle gateway over a minute, dev
launched with one stack updated since: 18 ms of the gateway's CPU and 26 ms of the emulator's
per second, against 9 and 13 when only the code was followed; reading the whole deployment
every second would add about 65 and 70):

- the environment's stacks (``deployment.stacks_fingerprint``: one DescribeStacks, and one
  DescribeStackEvents per stack updated since it was created, where ``LastUpdatedTime`` is not
  reported, as the emulator does not);
- each function's configuration (``LambdaRuntime.check_code``: one GetFunctionConfiguration
  each), which switches a function to new code by itself (``UpdateFunctionCode``).

When a stack changed, or a function's settings (handler, timeout, memory, environment) did, it
reads the whole deployment again (``deployment.load``) and:

- **same APIs, new configuration** (routes, integrations, the authorizer, stages and their
  variables, the execute-api endpoint, custom domains, a function's settings or its invoke
  permissions): new requests, connections and messages get it, those in flight finish as they
  began; a function whose worker would start differently gets a new worker, used once it is
  ready (the old one answers what it was running). One line:
  ``local gateway: configuration of dev changed: HTTP route GET /x added; forwarding
  environment changed``.
- **the stacks are gone** (``make local-down``): the open WebSockets are closed (1001, "dev's
  WebSocket API was deleted"; no ``$disconnect`` runs, its API being gone) and every request
  is answered 503 ``{"message": "dev is not deployed: ..."}``, once in one line:
  ``local gateway: dev's stacks are gone (make local to relaunch); waiting``. It keeps running
  rather than exiting: ``make local-down`` then ``make local`` is the way to start afresh, and
  the gateway in its terminal then serves the new stacks by itself.
- **relaunched** (new API ids): the WebSockets of the deleted API are closed as above (their
  agents reconnect, and are refused with their old token, the signing secret being new: they
  exit with their "token refused" line), and the new APIs are served once the WebSocket API has
  its stage (the routes stack, the last but one of a launch, adds it: until then, 503 as while
  gone). One line: ``local gateway: dev was relaunched: WebSocket API <id>, HTTP API <id>;
  tunnel URLs http://localhost:4567/{subdomain}``.

Changes made outside CloudFormation other than to a function's code or configuration (an
apigatewayv2 or add-permission call by hand) are served from the next stack change or restart
(what CloudFormation does is what a launch does; seeing hand-made changes too would mean reading
the whole deployment every second). While the deployment cannot be read (the emulator
stopped), the gateway serves what it has and says so once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import boto3

from local_gateway import access_log, deployment
from local_gateway.deployment import Api, DeployedFunction, Deployment
from local_gateway.lambda_runtime import code_name

if TYPE_CHECKING:
    from local_gateway.server import Gateway

FOLLOW_SECONDS = 1.0
# What takes an "s" when several of it changed alike ("HTTP routes GET /x, GET /y added").
_PLURALS = ("route", "authorizer", "stage", "domain", "function")
# Failures in a row before the gateway says it cannot read the deployment (a launch or a delete
# caught half-way fails one read now and then).
_SAY_AFTER = 2


def describe_changes(old: Deployment, new: Deployment) -> list[str]:
    """What differs between two deployments of the same APIs, in a few words each (code
    excepted: the runtime says which code it runs)."""
    changes: list[tuple[str, str, str]] = []  # (what, name, verb), grouped below
    changes += _api_changes("WebSocket", old.websocket, new.websocket)
    changes += _api_changes("HTTP", old.http, new.http)
    changes += _keyed("custom domain", old.http_domains, new.http_domains)
    for arn in sorted(set(old.functions) | set(new.functions)):
        before, after = old.functions.get(arn), new.functions.get(arn)
        label = _function_label(arn, before or after, new.environment)
        if before is None and after is not None:
            verb = "deployed" if arn in old.functions else "added"
            changes.append(("function", label, verb))
        elif after is None:
            verb = "not deployed" if arn in new.functions else "removed"
            changes.append(("function", label, verb))
        else:
            for setting in _function_changes(before, after):
                changes.append((label, setting, "changed"))
    return _grouped(changes)


def _api_changes(kind: str, old: Api, new: Api) -> list[tuple[str, str, str]]:
    def route_wiring(api: Api) -> dict[str, Any]:
        return {
            key: (route, api.integrations.get(route.integration_id or ""))
            for key, route in api.routes.items()
        }

    changes = _keyed(f"{kind} route", route_wiring(old), route_wiring(new))
    changes += _keyed(f"{kind} authorizer", old.authorizers, new.authorizers)
    changes += _keyed(f"{kind} stage", old.stages, new.stages)
    if old.route_selection_expression != new.route_selection_expression:
        changes.append((f"{kind} API", "route selection expression", "changed"))
    if old.disable_execute_api_endpoint != new.disable_execute_api_endpoint:
        verb = "disabled" if new.disable_execute_api_endpoint else "enabled"
        changes.append((f"{kind} API", "execute-api endpoint", verb))
    return changes


def _keyed(what: str, old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str]]:
    changes = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            changes.append((what, key, "added"))
        elif key not in new:
            changes.append((what, key, "removed"))
        elif old[key] != new[key]:
            changes.append((what, key, "changed"))
    return changes


def _function_changes(old: DeployedFunction, new: DeployedFunction) -> Iterable[str]:
    for setting, before, after in (
        ("handler", old.handler, new.handler),
        ("timeout", old.timeout_seconds, new.timeout_seconds),
        ("memory", old.memory_mb, new.memory_mb),
        ("environment", old.environment, new.environment),
        ("invoke permissions", old.policy, new.policy),
    ):
        if before != after:
            yield setting


def _function_label(arn: str, function: DeployedFunction | None, environment: str) -> str:
    name = function.name if function else arn.rsplit(":", 1)[-1]
    return code_name(name, environment) or name


def _grouped(changes: list[tuple[str, str, str]]) -> list[str]:
    """("HTTP route", "GET /x", "added") and ("HTTP route", "GET /y", "added") ->
    "HTTP routes GET /x, GET /y added"; a function's settings -> "forwarding environment,
    timeout changed"."""
    groups: dict[tuple[str, str], list[str]] = {}
    for what, name, verb in changes:
        groups.setdefault((what, verb), []).append(name)
    lines = []
    for (what, verb), names in groups.items():
        several = len(names) > 1 and what.split()[-1] in _PLURALS
        lines.append(f"{what}{'s' if several else ''} {', '.join(names)} {verb}")
    return lines


class Follower:
    """Reads the environment every ``FOLLOW_SECONDS`` and brings ``gateway`` in line with it."""

    def __init__(self, gateway: Gateway, session: boto3.session.Session | None = None) -> None:
        self._gateway = gateway
        self._environment = gateway.settings.environment
        self._session = session or boto3.session.Session()
        self._cloudformation = self._session.client("cloudformation")
        # The stacks as they were when what is served was read.
        self._fingerprint = gateway.deployed.stacks
        self._failures = 0

    async def run(self, interval: float = FOLLOW_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.step()
            except Exception as error:  # noqa: BLE001 - following never stops the serving
                self._cannot_read(error)

    async def step(self) -> None:
        gateway = self._gateway
        drifted = False
        if gateway.unavailable is None:
            drifted = await gateway.runtime.check_code()
        try:
            fingerprint = await asyncio.to_thread(
                deployment.stacks_fingerprint, self._cloudformation, self._environment
            )
        except Exception as error:  # noqa: BLE001 - the emulator stopped, a throttle
            self._cannot_read(error)
            return
        if fingerprint == self._fingerprint and not drifted:
            return
        try:
            new = await asyncio.to_thread(deployment.load, self._environment, self._session)
        except deployment.NotDeployed:
            self._read(fingerprint)
            self._gone()
            return
        except Exception as error:  # noqa: BLE001 - a launch or a delete caught half-way
            self._cannot_read(error)
            return
        self._read(new.stacks or fingerprint)  # as they were when ``new`` was read
        await self._follow(new)

    def _read(self, fingerprint: tuple[tuple[str, ...], ...]) -> None:
        if self._failures >= _SAY_AFTER:
            access_log.note(f"reading {self._environment}'s deployment again")
        self._failures = 0
        self._fingerprint = fingerprint

    def _cannot_read(self, error: Exception) -> None:
        self._failures += 1
        if self._failures == _SAY_AFTER:
            why = " ".join(str(error).split())[:300]
            access_log.note(
                f"cannot read {self._environment}'s deployment ({why}); serving it as it was"
            )

    def _gone(self) -> None:
        gateway = self._gateway
        gone = (
            f"{self._environment} is not deployed: its stacks are gone (make local relaunches it)"
        )
        if gateway.unavailable == gone:
            return  # said already
        self._close_deleted()
        gateway.unavailable = gone
        access_log.note(f"{self._environment}'s stacks are gone (make local to relaunch); waiting")

    def _close_deleted(self) -> None:
        self._gateway.websocket.close_deleted(f"{self._environment}'s WebSocket API was deleted")
        self._gateway.answers.close_deleted(f"{self._environment}'s answers API was deleted")

    async def _follow(self, new: Deployment) -> None:
        gateway = self._gateway
        old = gateway.deployed
        same_apis = (old.websocket.api_id, old.http.api_id, _api_id(old.answers)) == (
            new.websocket.api_id,
            new.http.api_id,
            _api_id(new.answers),
        )
        if same_apis and gateway.unavailable is None:
            changes = describe_changes(old, new)
            await gateway.take(new)
            if changes:
                access_log.note(
                    f"configuration of {self._environment} changed: {'; '.join(changes)}"
                )
            return
        if gateway.unavailable is None:  # replaced between two reads: the old API is deleted
            self._close_deleted()
        if self._environment not in new.websocket.stages:
            # A launch under way: its routes stack adds the stage.
            gateway.unavailable = (
                f"{self._environment} is being relaunched: its WebSocket API has no stage "
                f"{self._environment} yet"
            )
            return
        await gateway.take(new)
        gateway.unavailable = None
        what = "was relaunched" if not same_apis else "is deployed again"
        access_log.note(
            f"{self._environment} {what}: WebSocket API {new.websocket.api_id}, HTTP API "
            f"{new.http.api_id}; tunnel URLs {gateway.public_url_format}"
        )


def _api_id(api: Api | None) -> str | None:
    return api.api_id if api is not None else None
