"""rules.check_execute_api_endpoint: an HTTP API with ``DisableExecuteApiEndpoint: true`` is no
longer served at ``<api-id>.execute-api.<region>.amazonaws.com`` (404 ``{"message":"Not
Found"}``, on every stage), while the custom domains mapped to it serve it as before.

The emulator keeps the property through a stack's create and update (a template's boolean or a
parameter's string), and the local gateway reads it back from ``get_api``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from aws_fidelity import rules
from local_gateway import testing
from tests.gateway.conftest import http_request, start_gateway
from tests.gateway.recording import Records

NOT_FOUND = b'{"message": "Not Found"}'
DOMAIN = "*.tunnel.test"


def test_the_rule():
    rules.check_execute_api_endpoint(False)
    with pytest.raises(rules.Refused) as refused:
        rules.check_execute_api_endpoint(True)
    assert (refused.value.status, refused.value.message) == (404, "Not Found")


def http_api_template() -> dict[str, Any]:
    return {
        "Parameters": {"Disabled": {"Type": "String"}},
        "Resources": {
            "Api": {
                "Type": "AWS::ApiGatewayV2::Api",
                "Properties": {
                    "Name": "disabled-endpoint",
                    "ProtocolType": "HTTP",
                    "DisableExecuteApiEndpoint": {"Ref": "Disabled"},
                },
            }
        },
    }


def test_the_emulator_keeps_the_property_through_create_and_update(stacks, aws):
    template = http_api_template()
    name = stacks.create(template, {"Disabled": "true"})
    api_id = stacks.physical_ids(name)["Api"]
    gateway = aws("apigatewayv2")
    assert gateway.get_api(ApiId=api_id)["DisableExecuteApiEndpoint"] is True
    stacks.update(name, template, {"Disabled": "false"})
    assert gateway.get_api(ApiId=api_id)["DisableExecuteApiEndpoint"] is False
    literal = http_api_template()
    literal["Resources"]["Api"]["Properties"]["DisableExecuteApiEndpoint"] = True
    stacks.update(name, literal, {"Disabled": "unused"})
    assert gateway.get_api(ApiId=api_id)["DisableExecuteApiEndpoint"] is True
    del literal["Resources"]["Api"]["Properties"]["DisableExecuteApiEndpoint"]
    stacks.update(name, literal, {"Disabled": "unused"})
    assert gateway.get_api(ApiId=api_id)["DisableExecuteApiEndpoint"] is False


@pytest.fixture
def disabled_with_a_domain(launched, wiring) -> Iterator[None]:
    """dev's HTTP API as prod has it: its default endpoint disabled, ``*.tunnel.test`` mapped
    to its $default stage. Put back as it was afterwards: other tests start gateways on dev."""
    gateway = launched.client("apigatewayv2")
    api_id = wiring.http_api_id
    gateway.create_domain_name(
        DomainName=DOMAIN,
        DomainNameConfigurations=[
            {
                "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/test",
                "EndpointType": "REGIONAL",
            }
        ],
    )
    mapping = gateway.create_api_mapping(DomainName=DOMAIN, ApiId=api_id, Stage="$default")
    gateway.update_api(ApiId=api_id, DisableExecuteApiEndpoint=True)
    try:
        assert gateway.get_api(ApiId=api_id)["DisableExecuteApiEndpoint"] is True
        # A wildcard name travels percent-encoded (%2A): the emulator finds it all the same.
        (listed,) = gateway.get_api_mappings(DomainName=DOMAIN)["Items"]
        assert (listed["ApiId"], listed["Stage"]) == (api_id, "$default")
        yield
    finally:
        gateway.update_api(ApiId=api_id, DisableExecuteApiEndpoint=False)
        gateway.delete_api_mapping(DomainName=DOMAIN, ApiMappingId=mapping["ApiMappingId"])
        gateway.delete_domain_name(DomainName=DOMAIN)


@pytest.fixture
def prod_like_gateway(launched, disabled_with_a_domain) -> Iterator[testing.GatewayProcess]:
    folder = launched.root / "disabled-endpoint-records"
    folder.mkdir(exist_ok=True)
    handle = start_gateway(launched, Records(folder))
    try:
        yield handle
    finally:
        testing.stop(handle)


def test_the_execute_api_host_is_not_found_and_the_custom_domain_serves(
    prod_like_gateway, launched, wiring
):
    handle = prod_like_gateway
    records = Records(launched.root / "disabled-endpoint-records")
    own_host = f"{wiring.http_api_id}.execute-api.localhost:{handle.port}"
    for target in ("/items/refused-1", "/demo/items/refused-2", "/"):
        status, _, body = http_request(handle, "GET", target, host=own_host)
        assert (status, body) == (404, NOT_FOUND)
    status, _, body = http_request(
        handle, "GET", "/items/served", host=f"demo.localhost:{handle.port}"
    )
    assert status == 200, body
    event = json.loads(body)
    # The name the client used, as API Gateway gives it (locally <sub>.localhost:<port>).
    assert event["headers"]["host"] == f"demo.localhost:{handle.port}"
    assert event["requestContext"]["domainName"] == "demo.localhost"
    assert event["rawPath"] == "/items/served"
    # Only the custom domain's request reached the function.
    paths = [entry["event"]["rawPath"] for entry in records.all("forwarding")]
    assert paths == ["/items/served"]
    assert "execute-api endpoint is disabled" in handle.log()


def test_the_gateway_serves_the_execute_api_host_again_once_it_is_enabled(gateway, wiring):
    # The package's gateway, started from dev as deployed: the endpoint enabled.
    own_host = f"{wiring.http_api_id}.execute-api.localhost:{gateway.port}"
    status, _, body = http_request(gateway, "GET", "/items/enabled", host=own_host)
    assert status == 200, body
