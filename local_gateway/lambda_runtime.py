"""The deployed functions, run in-process: their code from ``functions/``, their settings from
what was deployed, each invocation on a worker thread with Lambda's limits.

Function ``http-tunnel-<name>-<env>`` runs ``<functions dir>/<name>/handler.py`` (its deployed
``Handler``, ``handler.handler``), imported once under its own module name, as a warm Lambda
keeps its module. Events and results cross a JSON round trip, as they do in Lambda, so a handler
that returns something JSON cannot carry fails here too.

Differences from Lambda, by construction: all functions share one process, so they share
``os.environ`` (the union of their deployed variables; they must agree) and may run concurrently
in one module; a handler that outlives its timeout is abandoned, not killed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import boto3

from local_gateway import iam
from local_gateway.deployment import DeployedFunction, Deployment, DeploymentError
from local_gateway.lambda_context import LambdaContext

# Lambda's synchronous invoke limit, for the event and for the result.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# Services the functions reach; creating one client of each before any thread does avoids
# boto3's default-session races (Lambda never runs two invocations in one process).
_WARM_SERVICES = ("dynamodb", "secretsmanager", "apigatewaymanagementapi")

Handler = Callable[[Any, Any], Any]


class Status(Enum):
    OK = "ok"
    RAISED = "raised"  # the handler raised
    ERROR = "error"  # not invocable, timed out in Lambda, or an unusable result
    TIMEOUT = "timeout"  # the integration gave up first
    TOO_LARGE = "too large"  # the event exceeds Lambda's payload limit


@dataclass(frozen=True)
class Outcome:
    status: Status
    value: Any = None
    payload: str = ""  # the result as Lambda returns it: JSON text
    reason: str = ""  # for the gateway's log, never for a client
    error_message: str = ""  # what a handler raised with (Lambda's errorMessage)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


def code_name(function_name: str, environment: str) -> str | None:
    """``http-tunnel-connect-dev`` -> ``connect``: the folder in ``functions/``."""
    prefix, suffix = "http-tunnel-", f"-{environment}"
    if function_name.startswith(prefix) and function_name.endswith(suffix):
        name = function_name[len(prefix) : -len(suffix)]
        return name or None
    return None


def merged_environment(deployment: Deployment, overrides: dict[str, str]) -> dict[str, str]:
    """The union of the deployed functions' variables, then the local overrides."""
    merged: dict[str, str] = {}
    for function in deployment.functions.values():
        for key, value in (function.environment if function else {}).items():
            if key in overrides:
                continue
            if merged.setdefault(key, value) != value:
                # One process has one os.environ: functions that disagree cannot run here.
                raise DeploymentError(
                    f"functions disagree on environment variable {key} "
                    f"({merged[key]!r} vs {value!r}); the local gateway runs them in one process"
                )
    return {**merged, **overrides}


class LambdaRuntime:
    def __init__(self, deployment: Deployment, functions_dir: Path, executor: Executor) -> None:
        self._deployment = deployment
        self._functions_dir = functions_dir
        self._executor = executor
        # ARN -> the handler, or why there is none (the text of an import error).
        self._handlers: dict[str, Handler | str] = {}

    def load(self) -> list[str]:
        """Import every deployed function's handler; return a warning per one that failed."""
        for service in _WARM_SERVICES:
            boto3.client(service)
        boto3.resource("dynamodb")  # loads the resource model once, before threads race for it
        warnings = []
        for arn, function in self._deployment.functions.items():
            if function is None:
                warnings.append(f"{arn}: not deployed")
                continue
            self._handlers[arn] = self._import(function)
            if isinstance(self._handlers[arn], str):
                warnings.append(f"{function.name}: {self._handlers[arn]}")
        return warnings

    def _import(self, function: DeployedFunction) -> Handler | str:
        name = code_name(function.name, self._deployment.environment)
        module_path, _, attribute = function.handler.rpartition(".")
        if name is None or not module_path or not attribute:
            return f"no local code for function {function.name} with handler {function.handler!r}"
        source = self._functions_dir / name / (module_path.replace(".", "/") + ".py")
        if not source.is_file():
            return f"Runtime.ImportModuleError: {source} not found"
        module_name = f"lambda_{function.name.replace('-', '_')}_{module_path.replace('.', '_')}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, source)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except BaseException:  # noqa: BLE001 - any import failure is the function's failure
            sys.modules.pop(module_name, None)
            return "Runtime.ImportModuleError: " + traceback.format_exc(limit=-3).strip()
        handler = getattr(module, attribute, None)
        if not callable(handler):
            return f"Runtime.HandlerNotFound: {source} has no function {attribute}"
        return handler

    async def invoke(
        self, function_arn: str | None, event: dict[str, Any], source_arn: str, timeout_ms: int
    ) -> Outcome:
        """Invoke as API Gateway would from ``source_arn``, giving up after ``timeout_ms``."""
        function = self._deployment.functions.get(function_arn) if function_arn else None
        if function is None:
            return Outcome(
                Status.ERROR, reason=f"integration names no deployed function ({function_arn})"
            )
        if not iam.api_gateway_may_invoke(
            function.policy, function.arn, source_arn, self._deployment.account_id
        ):
            return Outcome(
                Status.ERROR,
                reason=f"{function.name}'s resource policy does not let {source_arn} invoke it",
            )
        payload = json.dumps(event)
        if len(payload.encode()) > MAX_PAYLOAD_BYTES:
            return Outcome(Status.TOO_LARGE, reason="event larger than Lambda's 6 MB")
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._executor, self._run, function, payload)
        limit = min(timeout_ms / 1000, function.timeout_seconds)
        try:
            return await asyncio.wait_for(work, limit)
        except TimeoutError:
            if function.timeout_seconds <= timeout_ms / 1000:
                return Outcome(
                    Status.ERROR,
                    reason=f"{function.name}: Task timed out after {limit:.2f} seconds",
                )
            return Outcome(Status.TIMEOUT, reason=f"integration timed out after {limit:.2f} s")

    def _run(self, function: DeployedFunction, payload: str) -> Outcome:
        """On a worker thread: one invocation, its failures turned into an Outcome."""
        handler = self._handlers.get(function.arn, "not loaded")
        if isinstance(handler, str):
            return Outcome(Status.ERROR, reason=f"{function.name}: {handler.splitlines()[-1]}")
        try:
            result = handler(json.loads(payload), LambdaContext(function))
        except BaseException as error:  # noqa: BLE001 - Lambda reports any escape as an error
            # Where CloudWatch Logs would have it: the gateway's stderr, never a response.
            print(
                f"[{function.name}] {traceback.format_exc().rstrip()}", file=sys.stderr, flush=True
            )
            return Outcome(
                Status.RAISED,
                reason=f"{function.name} raised {type(error).__name__}",
                error_message=str(error),
            )
        try:
            text = json.dumps(result)
        except (TypeError, ValueError) as error:
            return Outcome(Status.ERROR, reason=f"{function.name}: Runtime.MarshalError: {error}")
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            return Outcome(Status.ERROR, reason=f"{function.name}: result larger than 6 MB")
        return Outcome(Status.OK, json.loads(text), text)
