"""Enabling a custom domain with a hosted zone on the local stack: one setting and a launch,
nothing else.

A launched dev, as a user has it; the user's Route 53 zone for ``tunnel.test`` (created in the
emulator, as the user would already have one); then ``custom_domain`` (the domain and the zone)
in ``config/dev/config.yaml``, the only file edited, and ``sceptre launch -y dev``. The domain
stack creates the wildcard certificate, validated through the zone, the domain, its API mapping
and the alias record; the functions name the new URLs. Turning it off again is the setting
removed and ``sceptre launch --prune``. The steps share one environment and run in order.
"""

from __future__ import annotations

import filecmp
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.local.conftest import LocalProject

DOMAIN = "tunnel.test"
EXAMPLE = """  # custom_domain:
  #   domain_name: tunnel.example.com
  #   hosted_zone_id: Z0123456789ABCDEFGHIJ
"""


def outputs(project: LocalProject, stack: str) -> dict[str, str]:
    described = project.client("cloudformation").describe_stacks(
        StackName=f"http-tunnel-dev-{stack}"
    )
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}


def stack_statuses(project: LocalProject) -> dict[str, str]:
    stacks = project.client("cloudformation").describe_stacks()["Stacks"]
    return {
        s["StackName"].removeprefix("http-tunnel-dev-"): s["StackStatus"]
        for s in stacks
        if s["StackName"].startswith("http-tunnel-dev-")
    }


def public_url_formats(project: LocalProject) -> set[str]:
    lam = project.client("lambda")
    return {
        lam.get_function_configuration(FunctionName=f"http-tunnel-{name}-dev")["Environment"][
            "Variables"
        ]["PUBLIC_URL_FORMAT"]
        for name in ("forwarding", "response")
    }


def records(project: LocalProject, zone_id: str) -> dict[tuple[str, str], dict]:
    listed = project.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    return {(r["Name"], r["Type"]): r for r in listed["ResourceRecordSets"]}


def edited_files(root: Path) -> list[str]:
    """The config files of the copy that differ from the project's."""
    edited = []
    for path in sorted((root / "config").rglob("*")):
        original = PROJECT / path.relative_to(root)
        if path.is_file() and not (original.is_file() and filecmp.cmp(path, original, False)):
            edited.append(path.relative_to(root).as_posix())
    return edited


@pytest.fixture(scope="module")
def zone_id(local_project: LocalProject) -> str:
    """dev launched without a domain, and the user's hosted zone for the domain."""
    first = local_project.sceptre("launch", "-y", "dev")
    assert first.returncode == 0, first.output
    assert "domain" not in stack_statuses(local_project)  # skipped: no domain is set
    created = local_project.client("route53").create_hosted_zone(
        Name=f"{DOMAIN}.", CallerReference="the-users-zone"
    )
    return str(created["HostedZone"]["Id"].rsplit("/", 1)[-1])


@pytest.fixture(scope="module")
def with_domain(local_project: LocalProject, zone_id: str) -> LocalProject:
    config = local_project.root / "config/dev/config.yaml"
    text = config.read_text()
    assert EXAMPLE in text  # the commented example the user uncomments
    config.write_text(
        text.replace(
            EXAMPLE,
            f"  custom_domain:\n    domain_name: {DOMAIN}\n    hosted_zone_id: {zone_id}\n",
        )
    )
    assert edited_files(local_project.root) == ["config/dev/config.yaml"]
    launch = local_project.sceptre("launch", "-y", "dev")
    assert launch.returncode == 0, launch.output
    assert "Traceback" not in launch.output
    local_project.launch_output = launch.output  # type: ignore[attr-defined]
    return local_project


def test_every_stack_is_complete_the_domain_stack_too(with_domain):
    statuses = stack_statuses(with_domain)
    assert statuses["domain"] == "CREATE_COMPLETE"
    assert set(statuses.values()) <= {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


def test_the_certificate_is_issued_with_its_validation_record_in_the_zone(with_domain, zone_id):
    arn = outputs(with_domain, "domain")["CertificateArn"]
    certificate = with_domain.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    assert (certificate["Status"], certificate["DomainName"]) == ("ISSUED", f"*.{DOMAIN}")
    assert arn.startswith("arn:aws:acm:us-east-1:")  # the stack's region, as the domain needs
    (validation,) = certificate["DomainValidationOptions"]
    record = validation["ResourceRecord"]
    in_zone = records(with_domain, zone_id)[(record["Name"], "CNAME")]
    assert [r["Value"] for r in in_zone["ResourceRecords"]] == [record["Value"]]


def test_the_domain_is_mapped_to_the_rest_api_and_aliased_in_the_zone(with_domain, zone_id):
    gateway = with_domain.client("apigatewayv2")
    routes = outputs(with_domain, "routes")
    http_api = outputs(with_domain, "apis")["HttpApiId"]
    domain = gateway.get_domain_name(DomainName=f"*.{DOMAIN}")
    (configuration,) = domain["DomainNameConfigurations"]
    assert configuration["CertificateArn"] == outputs(with_domain, "domain")["CertificateArn"]
    (mapping,) = gateway.get_api_mappings(DomainName=f"*.{DOMAIN}")["Items"]
    assert (mapping["ApiId"], mapping["Stage"], mapping.get("ApiMappingKey", "")) == (
        routes["RestApiId"],
        "dev",
        "",
    )
    assert routes["RestStageName"] == "dev"
    alias = records(with_domain, zone_id)[(f"*.{DOMAIN}.", "A")]["AliasTarget"]
    assert alias["DNSName"].rstrip(".") == configuration["ApiGatewayDomainName"]
    assert alias["HostedZoneId"] == configuration["HostedZoneId"]
    # The domain is the only way in: the HTTP API's own endpoint is closed (and unmapped).
    assert gateway.get_api(ApiId=http_api)["DisableExecuteApiEndpoint"] is True
    assert f"DNS: *.{DOMAIN} is an alias to" in with_domain.launch_output


def test_the_rest_api_streams_every_path_to_forwarding(with_domain):
    rest = with_domain.client("apigateway")
    api_id = outputs(with_domain, "routes")["RestApiId"]
    api = rest.get_rest_api(restApiId=api_id)
    assert api["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert api["disableExecuteApiEndpoint"] is True
    assert api["binaryMediaTypes"] == ["*/*"]  # written "*~1*" in the template
    resources = {r["path"]: r for r in rest.get_resources(restApiId=api_id)["items"]}
    assert sorted(resources) == ["/", "/{proxy+}"]
    forwarding = with_domain.client("lambda").get_function_configuration(
        FunctionName="http-tunnel-forwarding-dev"
    )["FunctionArn"]
    for resource in resources.values():
        method = rest.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod="ANY")
        assert method["authorizationType"] == "NONE"
        integration = method["methodIntegration"]
        assert (integration["type"], integration["responseTransferMode"]) == ("AWS_PROXY", "STREAM")
        assert integration["uri"] == (
            f"arn:aws:apigateway:us-east-1:lambda:path/2021-11-15/functions/{forwarding}"
            "/response-streaming-invocations"
        )
        assert integration["timeoutInMillis"] == 900_000
    stage = rest.get_stage(restApiId=api_id, stageName="dev")
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 20
    assert stage["accessLogSettings"]["destinationArn"].endswith(
        ":log-group:/aws/apigateway/http-tunnel-rest-access-dev"
    )
    deployments = rest.get_deployments(restApiId=api_id)["items"]
    assert [d["id"] for d in deployments] == [stage["deploymentId"]]


def test_the_functions_name_the_domains_urls(with_domain):
    assert public_url_formats(with_domain) == {f"https://{{subdomain}}.{DOMAIN}"}
    assert outputs(with_domain, "apis")["PublicUrlFormat"] == f"https://{{subdomain}}.{DOMAIN}"


def test_relaunching_changes_nothing(with_domain):
    before = stack_statuses(with_domain)
    again = with_domain.sceptre("launch", "-y", "dev")
    assert again.returncode == 0, again.output
    assert stack_statuses(with_domain) == before


def test_turning_it_off_is_the_setting_removed_and_a_pruning_launch(with_domain, zone_id):
    config = with_domain.root / "config/dev/config.yaml"
    config.write_text((PROJECT / "config/dev/config.yaml").read_text())
    assert edited_files(with_domain.root) == []
    launch = with_domain.sceptre("launch", "-y", "--prune", "dev")
    assert launch.returncode == 0, launch.output
    assert "domain" not in stack_statuses(with_domain)
    assert with_domain.client("apigatewayv2").get_domain_names()["Items"] == []
    assert with_domain.client("apigateway").get_rest_apis()["items"] == []
    (url_format,) = public_url_formats(with_domain)
    assert re.fullmatch(
        r"https://\w+\.execute-api\.us-east-1\.amazonaws\.com/\{subdomain\}", url_format
    )
    http_api = outputs(with_domain, "apis")["HttpApiId"]
    assert (
        with_domain.client("apigatewayv2").get_api(ApiId=http_api)["DisableExecuteApiEndpoint"]
        is False
    )
    # CloudFormation leaves the alias's zone to its owner; the record went with the stack.
    assert (f"*.{DOMAIN}.", "A") not in records(with_domain, zone_id)
