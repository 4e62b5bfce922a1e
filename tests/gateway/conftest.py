"""One launched dev for the whole package, with extra wiring, test handlers and a gateway.

dev is launched once on a fresh emulator (a project copy, the real Sceptre CLI). The tests then
add wiring to the deployed APIs through apigatewayv2 and lambda, as a changed template would:
a WebSocket route ``echo`` with its invoke permission, one without (``unpermitted``) and one
whose target names no integration (``nowhere``); HTTP routes ``GET /slow`` (1 s integration
timeout), ``GET /miswired`` and ``GET /unpermitted``. The copy's functions are replaced by the
handlers in ``handlers/``, which record their events, before the launch: the gateway runs what
was deployed (each function in its own process, with the records folder passed through to it).
"""

from __future__ import annotations

import http.client
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator import process
from local_gateway import testing
from local_gateway.lambda_runtime import PASS_ENV_VARIABLE
from tests.gateway.recording import RECORDS, Records
from tests.local.conftest import LocalProject
from tests.project_copy import copy_project, emulator_environment

HANDLERS = Path(__file__).parent / "handlers"
SUBDOMAIN = "demo"


@dataclass(frozen=True)
class Wiring:
    websocket_api_id: str
    http_api_id: str
    account_id: str
    region: str

    def execute_api_arn(self, api_id: str, resource: str) -> str:
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{api_id}/{resource}"


@pytest.fixture(scope="package")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProject]:
    root = tmp_path_factory.mktemp("gateway-project")
    copy_project(root)
    # The test handlers replace the functions before the launch: the gateway runs deployed code.
    for handler in HANDLERS.glob("*.py"):
        shutil.copyfile(handler, root / "functions" / handler.stem / "handler.py")
    handle = process.start()
    environment = emulator_environment(root, handle.url)
    try:
        project = LocalProject(root, environment)
        launch = project.sceptre("launch", "-y", "dev")
        assert launch.returncode == 0, launch.output
        yield project
    finally:
        process.stop(handle)


def _function_arn(project: LocalProject, name: str) -> str:
    configuration = project.client("lambda").get_function_configuration(
        FunctionName=f"http-tunnel-{name}-dev"
    )
    return configuration["FunctionArn"]


def _permit(project: LocalProject, function: str, source_arn: str) -> None:
    project.client("lambda").add_permission(
        FunctionName=f"http-tunnel-{function}-dev",
        StatementId=f"test-{abs(hash(source_arn))}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=source_arn,
    )


@pytest.fixture(scope="package")
def wiring(launched: LocalProject) -> Wiring:
    cloudformation = launched.client("cloudformation")
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName="http-tunnel-dev-apis")["Stacks"][0][
            "Outputs"
        ]
    }
    account = launched.client("sts").get_caller_identity()["Account"]
    wired = Wiring(outputs["WebSocketApiId"], outputs["HttpApiId"], account, "us-east-1")
    gateway = launched.client("apigatewayv2")

    ws = wired.websocket_api_id
    routes = {r["RouteKey"]: r for r in gateway.get_routes(ApiId=ws)["Items"]}
    default_target = routes["$default"]["Target"]
    gateway.create_route(ApiId=ws, RouteKey="echo", Target=default_target)
    _permit(launched, "response", wired.execute_api_arn(ws, "dev/echo"))
    gateway.create_route(ApiId=ws, RouteKey="unpermitted", Target=default_target)
    gateway.create_route(ApiId=ws, RouteKey="nowhere", Target="integrations/nosuchid")

    http_api = wired.http_api_id
    (catch_all,) = gateway.get_routes(ApiId=http_api)["Items"]
    slow = gateway.create_integration(
        ApiId=http_api,
        IntegrationType="AWS_PROXY",
        IntegrationUri=(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            f"{_function_arn(launched, 'forwarding')}/invocations"
        ),
        PayloadFormatVersion="2.0",
        TimeoutInMillis=1000,
    )
    gateway.create_route(
        ApiId=http_api, RouteKey="GET /slow", Target=f"integrations/{slow['IntegrationId']}"
    )
    _permit(launched, "forwarding", wired.execute_api_arn(http_api, "$default/GET/slow"))
    gateway.create_route(ApiId=http_api, RouteKey="GET /miswired", Target="integrations/nosuchid")
    gateway.create_route(ApiId=http_api, RouteKey="GET /unpermitted", Target=catch_all["Target"])
    return wired


@pytest.fixture(scope="package")
def answers_api_id(launched: LocalProject) -> str:
    """The internal answers API's id (the apis stack's output)."""
    stack = launched.client("cloudformation").describe_stacks(StackName="http-tunnel-dev-apis")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}
    return outputs["AnswersApiId"]


@pytest.fixture(scope="package")
def records(tmp_path_factory: pytest.TempPathFactory) -> Records:
    return Records(tmp_path_factory.mktemp("records"))


def start_gateway(
    project: LocalProject, records: Records, options: tuple[str, ...] = ()
) -> testing.GatewayProcess:
    return testing.start(
        # Every function gets the records folder, deliberately: nothing else of this
        # environment reaches a function that was not deployed with it.
        env={**project.environment, RECORDS: str(records.folder), PASS_ENV_VARIABLE: RECORDS},
        options=options,
    )


@pytest.fixture(scope="package")
def gateway(
    launched: LocalProject, wiring: Wiring, records: Records
) -> Iterator[testing.GatewayProcess]:
    handle = start_gateway(launched, records)
    try:
        yield handle
    finally:
        testing.stop(handle)


def http_request(
    gateway: testing.GatewayProcess,
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    host: str | None = None,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request with exactly these bytes on the wire (http.client sends target verbatim)."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host or gateway.host(SUBDOMAIN))
        for name, value in headers or []:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()
