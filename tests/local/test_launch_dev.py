"""`sceptre launch dev` end to end on the emulator: create, no-op, one function changed, delete.

The steps share one launched environment and run in order.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.local.conftest import LocalProject
from tests.sceptre_config import stack_names
from tunnel_infra.functions import FUNCTIONS
from tunnel_infra.packaging import package

STACKS = stack_names("dev")


def stack_states(project: LocalProject) -> dict[str, tuple[str, object]]:
    """Stack → (status, last updated): a stack Sceptre updated changes here."""
    stacks = project.client("cloudformation").describe_stacks()["Stacks"]
    return {
        s["StackName"].removeprefix("http-tunnel-dev-"): (
            s["StackStatus"],
            s.get("LastUpdatedTime"),
        )
        for s in stacks
        if s["StackName"].startswith("http-tunnel-dev-")
    }


def outputs(project: LocalProject, stack: str) -> dict[str, str]:
    described = project.client("cloudformation").describe_stacks(
        StackName=f"http-tunnel-dev-{stack}"
    )
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}


@pytest.fixture(scope="module")
def launched(local_project: LocalProject) -> LocalProject:
    first = local_project.sceptre("launch", "-y", "dev")
    assert first.returncode == 0, first.output
    assert sorted(name for name, _ in first.uploaded) == sorted(f.name for f in FUNCTIONS)
    return local_project


def test_every_stack_is_complete(launched):
    states = stack_states(launched)
    assert sorted(states) == STACKS
    assert {status for status, _ in states.values()} == {"CREATE_COMPLETE"}


def test_a_fresh_account_gets_the_api_gateway_cloudwatch_role_first(launched):
    # The emulator starts with no account settings, as a new AWS account does.
    role_arn = launched.client("apigateway").get_account()["cloudwatchRoleArn"]
    account = launched.client("cloudformation").describe_stacks(
        StackName="http-tunnel-account-api-gateway-logging"
    )["Stacks"][0]
    assert account["StackStatus"] == "CREATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in account["Outputs"]} == {
        "ApiGatewayCloudWatchRoleArn": role_arn
    }
    role = launched.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    # The WebSocket stage logs: it could only be created once the role was set.
    ws = outputs(launched, "apis")["WebSocketApiId"]
    (stage,) = launched.client("apigatewayv2").get_stages(ApiId=ws)["Items"]
    assert stage["AccessLogSettings"]["DestinationArn"].endswith("ws-access-dev")


def test_websocket_routes_have_lambda_integrations_and_connect_is_authorized(launched):
    apis = outputs(launched, "apis")
    gateway = launched.client("apigatewayv2")
    routes = {r["RouteKey"]: r for r in gateway.get_routes(ApiId=apis["WebSocketApiId"])["Items"]}
    assert sorted(routes) == ["$connect", "$default", "$disconnect"]
    integrations = {
        i["IntegrationId"]: i
        for i in gateway.get_integrations(ApiId=apis["WebSocketApiId"])["Items"]
    }
    expected_function = {"$connect": "connect", "$disconnect": "disconnect", "$default": "response"}
    for key, route in routes.items():
        integration = integrations[route["Target"].removeprefix("integrations/")]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert (
            f":function:http-tunnel-{expected_function[key]}-dev/" in integration["IntegrationUri"]
        )
    authorizers = gateway.get_authorizers(ApiId=apis["WebSocketApiId"])["Items"]
    assert len(authorizers) == 1
    assert authorizers[0]["IdentitySource"] == ["route.request.querystring.token"]
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert routes["$connect"]["AuthorizerId"] == authorizers[0]["AuthorizerId"]
    assert "AuthorizerId" not in routes["$default"]


def test_http_catch_all_route_reaches_forwarding(launched):
    apis = outputs(launched, "apis")
    gateway = launched.client("apigatewayv2")
    (route,) = gateway.get_routes(ApiId=apis["HttpApiId"])["Items"]
    assert route["RouteKey"] == "$default"
    (integration,) = gateway.get_integrations(ApiId=apis["HttpApiId"])["Items"]
    assert route["Target"] == f"integrations/{integration['IntegrationId']}"
    assert integration["PayloadFormatVersion"] == "2.0"
    assert integration["TimeoutInMillis"] == 29000
    assert ":function:http-tunnel-forwarding-dev/" in integration["IntegrationUri"]
    stages = {s["StageName"] for s in gateway.get_stages(ApiId=apis["HttpApiId"])["Items"]}
    assert stages == {"$default"}  # no stage prefix in the public URL or in rawPath


def test_the_dashboard_is_created_with_its_ids_and_alarms_and_its_url_printed(launched):
    url = outputs(launched, "monitoring")["DashboardUrl"]
    name = "http-tunnel-dashboard-dev"
    assert url == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        f"#dashboards:name={name}"
    )
    body = json.loads(
        launched.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"]
    )
    apis = outputs(launched, "apis")
    lines = [line for w in body["widgets"] for line in w["properties"].get("metrics", [])]
    assert ["AWS/ApiGateway", "Count", "ApiId", apis["HttpApiId"], "Stage", "$default"] in [
        line[:-1] for line in lines
    ]
    named_functions = {line[3] for line in lines if line[0] == "AWS/Lambda"}
    assert named_functions == {f"http-tunnel-{f.name}-dev" for f in FUNCTIONS}
    assert {w["properties"]["region"] for w in body["widgets"] if w["type"] == "metric"} == {
        "us-east-1"
    }
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    alarms = launched.client("cloudwatch").describe_alarms(AlarmNamePrefix="http-tunnel-")
    arns = {a["AlarmArn"] for a in alarms["MetricAlarms"] if a["AlarmName"].endswith("-dev")}
    assert set(alarm_widget["properties"]["alarms"]) == arns
    printed = subprocess.run(
        [sys.executable, "-m", "tunnel_infra.outputs", "dev", "--only", "DashboardUrl"],
        cwd=launched.root,
        env=launched.environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.split() == ["dashboard:", url]


def test_every_function_runs_the_locally_computed_code(launched):
    lam = launched.client("lambda")
    for function in FUNCTIONS:
        expected = package(launched.root, function.name, "x86_64")
        configuration = lam.get_function(FunctionName=f"http-tunnel-{function.name}-dev")
        assert configuration["Code"]["Location"]  # deployed from S3
        parameters = launched.client("cloudformation").describe_stacks(
            StackName="http-tunnel-dev-functions"
        )["Stacks"][0]["Parameters"]
        keys = {p["ParameterKey"]: p["ParameterValue"] for p in parameters}
        assert keys[f"{function.title}CodeKey"] == expected.key


def test_relaunch_without_changes_uploads_and_updates_nothing(launched):
    before = stack_states(launched)
    again = launched.sceptre("launch", "-y", "dev")
    assert again.returncode == 0, again.output
    assert again.uploaded == []
    assert sorted(name for name, _ in again.skipped) == sorted(f.name for f in FUNCTIONS)
    assert stack_states(launched) == before
    assert (
        "No updates to perform" in again.output or "No updates are to be performed" in again.output
    )


def test_changing_one_function_uploads_one_zip_and_updates_only_functions(launched):
    before = stack_states(launched)
    handler = launched.root / "functions/response/handler.py"
    handler.write_text(handler.read_text() + "\n# a change\n")
    changed = launched.sceptre("launch", "-y", "dev")
    assert changed.returncode == 0, changed.output
    assert [name for name, _ in changed.uploaded] == ["response"]
    after = stack_states(launched)
    updated = sorted(name for name in after if after[name] != before[name])
    assert updated == ["functions"]
    assert after["functions"][0] == "UPDATE_COMPLETE"


def test_a_function_that_does_not_compile_stops_the_launch_untouched(launched):
    before = stack_states(launched)
    handler = launched.root / "functions/connect/handler.py"
    original = handler.read_text()
    handler.write_text("def handler(:\n")
    try:
        broken = launched.sceptre("launch", "-y", "dev")
    finally:
        handler.write_text(original)
    assert broken.returncode != 0
    assert "function 'connect' does not compile" in broken.output
    assert "Traceback" not in broken.output
    assert stack_states(launched) == before


def test_a_missing_artifacts_bucket_stops_the_launch_untouched(launched):
    before = stack_states(launched)
    config = launched.root / "config/dev/functions.yaml"
    original = config.read_text()
    config.write_text(
        original.replace(
            "{bucket: !stack_output dev/artifacts.yaml::ArtifactsBucketName}",
            "{bucket: no-such-artifacts-bucket}",
        )
    )
    handler = launched.root / "functions/disconnect/handler.py"
    code = handler.read_text()
    handler.write_text(code + "\n# needs an upload\n")
    try:
        missing = launched.sceptre("launch", "-y", "dev")
    finally:
        config.write_text(original)
        handler.write_text(code)
    assert missing.returncode != 0
    assert (
        "artifacts bucket 'no-such-artifacts-bucket' is missing or not reachable" in missing.output
    )
    assert "Traceback" not in missing.output
    assert stack_states(launched) == before


def test_a_failed_upload_stops_the_launch_untouched(launched):
    before = stack_states(launched)
    s3 = launched.client("s3")
    bucket = outputs(launched, "artifacts")["ArtifactsBucketName"]
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    deny_uploads = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny_uploads))
    handler = launched.root / "functions/disconnect/handler.py"
    code = handler.read_text()
    handler.write_text(code + "\n# needs an upload\n")
    try:
        failed = launched.sceptre("launch", "-y", "dev")
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)
        handler.write_text(code)
    assert failed.returncode != 0
    assert "upload of disconnect to s3://" in failed.output
    assert "the stack was not touched" in failed.output
    assert "Traceback" not in failed.output
    assert stack_states(launched) == before


def test_delete_removes_every_stack(launched):
    bucket = outputs(launched, "artifacts")["ArtifactsBucketName"]
    deleted = launched.sceptre("delete", "-y", "dev")
    assert deleted.returncode == 0, deleted.output
    assert "object versions removed" in deleted.output
    assert stack_states(launched) == {}
    buckets = [b["Name"] for b in launched.client("s3").list_buckets()["Buckets"]]
    assert bucket not in buckets
