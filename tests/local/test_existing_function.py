"""`sceptre launch dev` on the emulator with forwarding an existing function, created beforehand
by hand (as its owner would, with a role of its own and the handler-contract tag).

The launch neither packages nor creates forwarding; the HTTP API's route, the invoke permission
and the alarms point at the existing function; a public request through the local gateway is
answered by it; and ``make sync`` refuses to touch it, in one line.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from tunnel_shared.protocol import PROTOCOL_TAG, PROTOCOL_VERSION

from local_gateway import testing as gateway_testing
from tests.existing_functions import (
    FORWARDING_NAME,
    create_existing_function,
    set_existing_functions,
)
from tests.local.conftest import Launch, LocalProject, project_on_its_own_emulator
from tunnel_infra.functions import FUNCTIONS


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalProject, str, str]]:
    with project_on_its_own_emulator(tmp_path_factory, "existing") as project:
        arn = create_existing_function(
            project.client("lambda"),
            project.client("iam"),
            FORWARDING_NAME,
            {PROTOCOL_TAG: PROTOCOL_VERSION},
        )
        set_existing_functions(project.root, "dev", {"forwarding": arn})
        launch = project.sceptre("launch", "-y", "dev")
        assert launch.returncode == 0, launch.output
        yield project, arn, launch.output


def outputs(project: LocalProject, stack: str) -> dict[str, str]:
    described = project.client("cloudformation").describe_stacks(
        StackName=f"http-tunnel-dev-{stack}"
    )
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}


def test_the_launch_neither_packages_nor_creates_forwarding(launched):
    project, arn, output = launched
    uploaded = {name for name, _ in Launch(0, output).uploaded}
    assert uploaded == {f.name for f in FUNCTIONS} - {"forwarding"}
    names = {f["FunctionName"] for f in project.client("lambda").list_functions()["Functions"]}
    assert FORWARDING_NAME in names
    assert "http-tunnel-forwarding-dev" not in names
    assert "http-tunnel-response-dev" in names
    resources = project.client("cloudformation").list_stack_resources(
        StackName="http-tunnel-dev-functions"
    )["StackResourceSummaries"]
    assert not [r for r in resources if r["LogicalResourceId"].startswith("Forwarding")]
    functions = outputs(project, "functions")
    assert functions["ForwardingFunctionArn"] == arn
    assert functions["ForwardingFunctionName"] == FORWARDING_NAME
    assert '"BODIES_OBJECTS":"s3://' in functions["ForwardingNeedsEnvironment"]


def test_the_route_and_its_invoke_permission_point_at_the_existing_function(launched):
    project, arn, _ = launched
    gateway = project.client("apigatewayv2")
    http_api = outputs(project, "apis")["HttpApiId"]
    (integration,) = gateway.get_integrations(ApiId=http_api)["Items"]
    assert arn in integration["IntegrationUri"]
    policy = json.loads(project.client("lambda").get_policy(FunctionName=arn)["Policy"])
    # The routes stack's permission, on the existing function, for the HTTP API's route only.
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == arn
    source = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
    assert source.endswith(f":{http_api}/$default/$default")


def test_its_alarms_watch_the_existing_function(launched):
    project, _, _ = launched
    alarms = project.client("cloudwatch").describe_alarms()["MetricAlarms"]
    watched = {
        d["Value"] for a in alarms for d in a.get("Dimensions", []) if d["Name"] == "FunctionName"
    }
    assert FORWARDING_NAME in watched
    assert "http-tunnel-forwarding-dev" not in watched


def test_a_public_request_is_answered_by_the_existing_function(launched):
    project, _, _ = launched
    gateway = gateway_testing.start(env=project.environment)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
        connection.request(
            "GET", gateway.target("anyone", "/"), headers={"Host": gateway.host("anyone")}
        )
        response = connection.getresponse()
        body = response.read()
        connection.close()
    finally:
        gateway_testing.stop(gateway)
    assert (response.status, body) == (200, b"from the existing function")


def test_sync_refuses_the_existing_function_in_one_line(launched):
    project, arn, _ = launched
    synced = subprocess.run(
        [sys.executable, "-m", "tunnel_infra.code_sync", "dev", "--dir", str(project.root)],
        cwd=project.root,
        env=project.environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stderr
    lines = synced.stdout.splitlines()
    assert [line for line in lines if line.startswith("forwarding")] == [
        f"forwarding  not synced: {arn} is an existing function (existing_functions.forwarding), "
        "whose code its owner deploys"
    ]
    assert {line.split()[0] for line in lines if " unchanged" in line} == {
        f.name for f in FUNCTIONS
    } - {"forwarding"}


def test_the_outputs_print_what_its_owner_must_give_it(launched):
    project, _, _ = launched
    printed = subprocess.run(
        [sys.executable, "-m", "tunnel_infra.outputs", "dev"],
        cwd=project.root,
        env=project.environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    needs = {
        label.strip(): value
        for label, _, value in (line.partition(": ") for line in printed.stdout.splitlines())
        if "needs" in label
    }
    assert sorted(needs) == ["forwarding needs environment", "forwarding needs policy"]
    environment = json.loads(needs["forwarding needs environment"])["Variables"]
    tables = outputs(project, "tables")
    assert environment["CONNECTIONS_TABLE"] == tables["ConnectionsTableName"]
    policy = json.loads(needs["forwarding needs policy"])
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert any(r.endswith(f":table/{tables['ConnectionsTableName']}") for r in resources)
    # Resolved by CloudFormation: no ${...} left for the owner to fill in.
    assert "${" not in needs["forwarding needs policy"]
