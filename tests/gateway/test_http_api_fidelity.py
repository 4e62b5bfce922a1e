"""The HTTP API's event shapes as AWS delivers them, not as our templates assumed
(aws_fidelity.rules: http_api_host, http_api_stage, http_api_mapped_path).

- Without a custom domain the API is reached at its execute-api host only (here also by its
  local names), and the function sees the Host the client used: a ``<subdomain>.`` Host is no
  address of the API.
- A named stage is the first path segment and stays in ``rawPath``; ``$default`` adds nothing.
"""

from __future__ import annotations

import json

import pytest

from aws_fidelity import rules
from local_gateway import testing
from tests.gateway.conftest import http_request, start_gateway
from tests.gateway.recording import Records

NOT_FOUND = b'{"message": "Not Found"}'


def execute_api_host(gateway, wiring) -> str:
    return f"{wiring.http_api_id}.execute-api.localhost:{gateway.port}"


def test_the_function_sees_the_host_the_client_used(gateway, wiring):
    # As on AWS, where the client used the API's own name: here its local name, port included.
    host = execute_api_host(gateway, wiring)
    status, _, body = http_request(gateway, "GET", "/items/1", host=host)
    assert status == 200, body
    event = json.loads(body)
    assert event["headers"]["host"] == host
    assert event["requestContext"]["domainName"] == f"{wiring.http_api_id}.execute-api.localhost"
    assert event["requestContext"]["domainPrefix"] == wiring.http_api_id
    assert event["requestContext"]["stage"] == "$default"
    assert event["rawPath"] == "/items/1"  # $default: no stage prefix


@pytest.mark.parametrize("host", ["demo.localhost", "demo.attacker.net", "demo"])
def test_without_a_custom_domain_a_subdomain_host_reaches_nothing(gateway, host):
    status, _, body = http_request(gateway, "GET", "/", host=f"{host}:{gateway.port}")
    assert (status, body) == (404, NOT_FOUND)


@pytest.fixture(scope="package")
def named_stage(launched, wiring):
    """The old template's shape: a stage named after the environment, beside $default."""
    gateway = launched.client("apigatewayv2")
    gateway.create_stage(ApiId=wiring.http_api_id, StageName="v1", AutoDeploy=True)
    launched.client("lambda").add_permission(
        FunctionName="http-tunnel-forwarding-dev",
        StatementId="test-named-stage",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=wiring.execute_api_arn(wiring.http_api_id, "v1/$default"),
    )
    return "v1"


def test_a_named_stage_keeps_its_prefix_in_the_raw_path(named_stage, wiring, launched):
    records_folder = launched.root / "named-stage-records"
    records_folder.mkdir(exist_ok=True)
    handle = start_gateway(launched, Records(records_folder))
    try:
        host = execute_api_host(handle, wiring)
        status, _, body = http_request(handle, "GET", "/v1/foo?q=1", host=host)
        assert status == 200, body
        event = json.loads(body)
        # What the old forwarding would have sent the local service: "/v1/foo".
        assert (event["rawPath"], event["requestContext"]["stage"]) == ("/v1/foo", "v1")
        assert event["rawQueryString"] == "q=1"
        status, _, body = http_request(handle, "GET", "/foo", host=host)
        assert json.loads(body)["rawPath"] == "/foo"
    finally:
        testing.stop(handle)


def test_the_rules_themselves():
    assert rules.http_api_stage({"dev"}, "/dev/foo") == ("dev", "/dev/foo")
    assert rules.http_api_stage({"dev"}, "/foo") is None
    assert rules.http_api_stage({"$default", "dev"}, "/foo") == ("$default", "/foo")
    assert rules.http_api_mapped_path("dev", "/foo") == "/dev/foo"
    assert rules.http_api_mapped_path("$default", "/foo") == "/foo"
    own = "abc.execute-api.us-east-1.amazonaws.com"
    assert rules.http_api_host(own, "abc", "us-east-1", set()) == own
    assert rules.http_api_host("demo.tunnel.test", "abc", "us-east-1", set()) is None
    wildcard = {"*.tunnel.test"}
    assert rules.http_api_host("demo.tunnel.test", "abc", "us-east-1", wildcard) == (
        "demo.tunnel.test"
    )
    assert rules.http_api_host("a.b.tunnel.test", "abc", "us-east-1", wildcard) is None


def test_dev_tunnels_are_paths_on_the_execute_api_host(gateway, wiring):
    # dev has no custom domain: the deployed PUBLIC_URL_FORMAT is the path form, served here
    # under the local name of the API's own endpoint that every client resolves.
    assert gateway.public_url_format == f"http://localhost:{gateway.port}/{{subdomain}}"
