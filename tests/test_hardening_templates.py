"""Issue 18's template rows, on the rendered templates: what AWS would misread or refuse there
and the emulator cannot show (each test names its row)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
from tunnel_shared import limits

from tests.conftest import PROJECT
from tests.sceptre_config import read_config
from tunnel_infra.render import ENVIRONMENTS
from tunnel_infra.settings import parse_settings


def _settings(environment: str):
    return parse_settings(read_config(f"{environment}/config.yaml")["sceptre_user_data"])


def _resources(templates: dict, stack: str, resource_type: str) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in templates[stack]["Resources"].items()
        if resource["Type"] == resource_type
    }


def _log_group_name(templates: dict, stack: str, destination: dict) -> str:
    logical_id = destination["Fn::GetAtt"][0]
    return templates[stack]["Resources"][logical_id]["Properties"]["LogGroupName"]


# --- A2: HTTP access logs under /aws/vendedlogs/ ---------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_http_access_logs_go_under_vendedlogs(templates, environment):
    """A2: a group outside /aws/vendedlogs/ is added to the account's 5,120-character CloudWatch
    Logs resource policy, and the stage fails once that is full."""
    stage = templates[f"{environment}/routes"]["Resources"]["HttpStage"]["Properties"]
    name = _log_group_name(
        templates, f"{environment}/routes", stage["AccessLogSettings"]["DestinationArn"]
    )
    assert name.startswith("/aws/vendedlogs/"), name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_data_key_lets_logs_encrypt_every_log_group_of_its_environment(templates, environment):
    """A2: moving a group must not leave it outside the key policy's log-group condition."""
    key = _resources(templates, f"{environment}/keys", "AWS::KMS::Key")
    if not key:
        pytest.skip(f"{environment} has no customer-managed key")
    [statement] = [
        s
        for s in next(iter(key.values()))["Properties"]["KeyPolicy"]["Statement"]
        if s["Sid"] == "LogsEncryptsThisEnvironmentsLogGroups"
    ]
    pattern = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
    # ArnLike: * is any run of characters, slashes included.
    group_pattern = pattern.split(":log-group:", 1)[1]
    names = [
        resource["Properties"]["LogGroupName"]
        for stack, template in templates.items()
        if stack.startswith(f"{environment}/")
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Logs::LogGroup"
    ]
    assert names
    for name in names:
        assert fnmatch.fnmatchcase(name, group_pattern), (name, group_pattern)


# --- A3: RetainExceptOnCreate ----------------------------------------------------------------


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_protected_tables_and_the_key_are_not_kept_by_a_failed_first_create(templates, environment):
    """A3: Retain keeps a named table when the create that made it rolls back, and the retry
    fails on its name. UpdateReplacePolicy takes no RetainExceptOnCreate: Retain there."""
    kept = {
        **_resources(templates, f"{environment}/tables", "AWS::DynamoDB::Table"),
        **_resources(templates, f"{environment}/keys", "AWS::KMS::Key"),
    }
    assert len(kept) >= 2  # the connections and tokens tables, and the key where enabled
    for logical_id, resource in kept.items():
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
        assert resource["UpdateReplacePolicy"] == "Retain", logical_id


def test_dev_tables_go_with_their_stack(templates):
    for resource in _resources(templates, "dev/tables", "AWS::DynamoDB::Table").values():
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Delete"


# --- A7: the agents' own throttles -----------------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_agents_messages_have_limits_sized_from_the_public_ones(templates, environment):
    """A7: each public request the HTTP stage admits costs an agent message on $default, which
    also carries pings: the WebSocket stage must admit more than the HTTP one, and $connect
    has a limit of its own, well below it."""
    resources = templates[f"{environment}/routes"]["Resources"]
    http = resources["HttpStage"]["Properties"]["DefaultRouteSettings"]
    websocket = resources["WebSocketStage"]["Properties"]
    messages = websocket["DefaultRouteSettings"]
    assert messages["ThrottlingRateLimit"] > http["ThrottlingRateLimit"]
    assert messages["ThrottlingBurstLimit"] > http["ThrottlingBurstLimit"]
    routes = websocket["RouteSettings"]
    assert set(routes) == {"$connect", "$default"}
    assert routes["$default"] == messages
    connect = routes["$connect"]
    assert 1 <= connect["ThrottlingRateLimit"] < http["ThrottlingRateLimit"]
    assert 1 <= connect["ThrottlingBurstLimit"] < http["ThrottlingBurstLimit"]
    # Derived from the settings, not restated.
    throttling = _settings(environment).throttling
    assert (messages["ThrottlingBurstLimit"], messages["ThrottlingRateLimit"]) == tuple(
        throttling.agent_messages
    )
    assert (connect["ThrottlingBurstLimit"], connect["ThrottlingRateLimit"]) == tuple(
        throttling.agent_connects
    )
    # Every route key named in RouteSettings exists on the API (else NotFoundException).
    keys = {
        r["Properties"]["RouteKey"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
        and r["Properties"]["ApiId"] == websocket["ApiId"]
    }
    assert set(routes) <= keys


# --- A11: the AWS owned key where no CMK -----------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_tables_without_a_customer_key_use_the_free_aws_owned_key(templates, environment):
    """A11: SSEEnabled true without a key is the AWS managed key (KMS charges); false is the
    AWS owned key."""
    for logical_id, table in _resources(
        templates, f"{environment}/tables", "AWS::DynamoDB::Table"
    ).items():
        sse = table["Properties"]["SSESpecification"]
        if "KMSMasterKeyId" in sse:
            assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS", logical_id
        else:
            assert sse == {"SSEEnabled": False}, logical_id


# --- A12: the endpoint printed for an API whose execute-api endpoint is disabled ---------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_http_endpoint_output_is_one_that_answers(templates, environment):
    """A12: with DisableExecuteApiEndpoint, ApiEndpoint still names the execute-api URL, which
    answers 404: the output must give the custom domain's."""
    template = templates[f"{environment}/apis"]
    api = template["Resources"]["HttpApi"]["Properties"]
    endpoint = template["Outputs"]["HttpEndpoint"]["Value"]
    if api.get("DisableExecuteApiEndpoint"):
        domain = _settings(environment).custom_domain.domain_name
        assert endpoint == f"https://*.{domain}"
    else:
        assert endpoint == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}


def test_prod_disables_its_execute_api_endpoint(templates):
    assert templates["prod/apis"]["Resources"]["HttpApi"]["Properties"]["DisableExecuteApiEndpoint"]


# --- A13: BucketKeyEnabled only with SSE-KMS ---------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_bucket_key_without_sse_kms(templates, environment):
    """A13: an S3 Bucket Key applies to SSE-KMS only; with AES256 it does nothing."""
    buckets = {
        **_resources(templates, f"{environment}/artifacts", "AWS::S3::Bucket"),
        **_resources(templates, f"{environment}/bodies", "AWS::S3::Bucket"),
    }
    assert buckets
    for logical_id, bucket in buckets.items():
        for rule in bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]:
            algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            if algorithm != "aws:kms":
                assert "BucketKeyEnabled" not in rule, logical_id


# --- S5: an alarm on the public stage's 429s ---------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_alarm_counts_the_public_stages_429s_from_its_access_log(templates, environment):
    """S5: HTTP APIs publish no 429 metric (4xx, 5xx, Count, latencies, DataProcessed only):
    a metric filter on the access log's status counts them, and an alarm watches it."""
    routes = templates[f"{environment}/routes"]["Resources"]
    filters = _resources(templates, f"{environment}/routes", "AWS::Logs::MetricFilter")
    metric_filter = filters["HttpThrottledFilter"]
    properties = metric_filter["Properties"]
    # Where a domain maps the REST API, its stage's 429s count in the same metric.
    assert set(filters) <= {"HttpThrottledFilter", "RestThrottledFilter"}
    if "RestThrottledFilter" in filters:
        rest = filters["RestThrottledFilter"]["Properties"]
        assert rest["LogGroupName"] == {"Ref": "RestAccessLog"}
        assert rest["MetricTransformations"] == properties["MetricTransformations"]
    assert properties["LogGroupName"] == {"Ref": "HttpAccessLog"}
    assert routes["HttpAccessLog"]["Type"] == "AWS::Logs::LogGroup"
    # The pattern reads the field the access log writes the status to.
    log_format = json.loads(routes["HttpStage"]["Properties"]["AccessLogSettings"]["Format"])
    assert log_format["status"] == "$context.status"
    assert properties["FilterPattern"] == '{ $.status = "429" }'
    [transformation] = properties["MetricTransformations"]
    alarms = [
        a["Properties"]
        for a in _resources(
            templates, f"{environment}/monitoring", "AWS::CloudWatch::Alarm"
        ).values()
        if a["Properties"]["MetricName"] == transformation["MetricName"]
        and a["Properties"]["Namespace"] == transformation["MetricNamespace"]
    ]
    assert len(alarms) == 1
    assert alarms[0]["Statistic"] == "Sum" and alarms[0]["Threshold"] >= 1


# --- Knowledge in one place: the 29 s / 30 s timeouts ------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_timeouts_in_the_templates_are_the_platform_limits(templates, environment):
    functions = templates[f"{environment}/functions"]["Resources"]
    [forwarding] = [
        r
        for r in functions.values()
        if r["Type"] == "AWS::Lambda::Function"
        and "forwarding" in json.dumps(r["Properties"].get("FunctionName"))
    ]
    # Where the REST API streams from it (a domain is set), as long as a stream may last.
    streams = bool(_resources(templates, f"{environment}/routes", "AWS::ApiGateway::RestApi"))
    assert forwarding["Properties"]["Timeout"] == (
        limits.STREAM_MAX_SECONDS if streams else limits.HTTP_API_TIMEOUT_SECONDS
    )
    integrations = _resources(templates, f"{environment}/routes", "AWS::ApiGatewayV2::Integration")
    expected = {
        "ForwardingIntegration": limits.HTTP_INTEGRATION_TIMEOUT_SECONDS * 1000,
        "ConnectIntegration": limits.WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS * 1000,
        "DisconnectIntegration": limits.WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS * 1000,
        "ResponseIntegration": limits.WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS * 1000,
        "WhoamiIntegration": limits.WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS * 1000,
        # MOCK: answered by API Gateway itself, nothing to time out.
        "AnswersConnectIntegration": None,
    }
    assert {k: v["Properties"].get("TimeoutInMillis") for k, v in integrations.items()} == expected


@pytest.mark.parametrize(
    "path", ["tunnel_infra/functions.py", "tunnel_infra/aws/apigatewayv2.py", "templates/routes.py"]
)
def test_the_timeouts_are_not_restated(path):
    """They come from functions/tunnel_shared/limits.py: a copy here would drift from it."""
    source = Path(PROJECT / path).read_text()
    for restated in (
        "29_000",
        "29000",
        "30_000",
        "30000",
        "timeout_seconds=30",
        "timeout_seconds=29",
    ):
        assert restated not in source, f"{path} restates a timeout: {restated}"
