"""Preflight: the account's prerequisites, each failure one line naming the fix, nothing
changed. Against the emulator, which is as strict as AWS here (aws_fidelity.rules)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tunnel_shared.protocol import PROTOCOL_TAG, PROTOCOL_VERSION

from hooks.preflight import check_account
from tests.existing_functions import create_existing_function
from tests.local.conftest import LocalProject, project_on_its_own_emulator
from tests.sceptre_config import read_config
from tunnel_infra.settings import parse_settings

REGION = "us-east-1"
DEV = read_config("dev/config.yaml")["sceptre_user_data"]
PROD = read_config("prod/config.yaml")["sceptre_user_data"]


def settings(base: dict, **changes: object):
    data = json.loads(json.dumps(base))
    data.update(changes)
    return parse_settings(data)


def caller(aws):
    def call(service: str, command: str, kwargs: dict | None = None):
        return getattr(aws(service), command)(**(kwargs or {}))

    return call


def problems(findings) -> list[str]:
    return [f"{f.problem}; {f.fix}" for f in findings.failures]


def certificate(tmp_path: Path, name: str) -> tuple[bytes, bytes]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"]
        + ["-addext", f"subjectAltName=DNS:{name}"],
        check=True,
        capture_output=True,
    )
    return cert.read_bytes(), key.read_bytes()


TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def set_cloudwatch_role(aws, arn: str) -> None:
    aws("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
    )


def test_a_fresh_account_without_the_cloudwatch_role_is_refused_with_its_fix(aws):
    found = check_account(caller(aws), settings(DEV), REGION, creates_cloudwatch_role=False)
    assert problems(found) == [
        "API Gateway has no CloudWatch role in this account and region, so a WebSocket stage "
        "with access logs cannot be created; launch account/api-gateway-logging.yaml first "
        "(sceptre launch account)"
    ]


def test_a_launch_that_creates_the_role_passes(aws):
    found = check_account(caller(aws), settings(DEV), REGION, creates_cloudwatch_role=True)
    assert found.failures == []


def test_a_set_role_passes_and_a_role_deleted_since_is_refused(aws):
    iam = aws("iam")
    arn = iam.create_role(RoleName="apigw-logs", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    set_cloudwatch_role(aws, arn)
    assert check_account(caller(aws), settings(DEV), REGION, False).failures == []
    iam.delete_role(RoleName="apigw-logs")
    try:
        assert problems(check_account(caller(aws), settings(DEV), REGION, True)) == [
            f"API Gateway's CloudWatch role {arn} does not exist; relaunch "
            "account/api-gateway-logging.yaml (sceptre launch account)"
        ]
    finally:  # the same role again, so the account is ready for the other tests
        iam.create_role(RoleName="apigw-logs", AssumeRolePolicyDocument=TRUST)


def test_reservations_that_fit_the_account_pass(aws):
    # The emulator's default account: 1000 executions, 100 kept unreserved.
    staging = read_config("staging/config.yaml")["sceptre_user_data"]
    assert check_account(caller(aws), parse_settings(staging), REGION, True).failures == []


def test_the_certificate_must_exist_be_in_region_and_cover_the_wildcard(aws, tmp_path):
    acm = aws("acm")
    wrong_cert, wrong_key = certificate(tmp_path, "www.other.test")
    wrong = acm.import_certificate(Certificate=wrong_cert, PrivateKey=wrong_key)
    right_cert, right_key = certificate(tmp_path, "*.tunnel.example.com")
    right = acm.import_certificate(Certificate=right_cert, PrivateKey=right_key)
    account = right["CertificateArn"].split(":")[4]

    def findings(arn: str) -> list[str]:
        domain = {"domain_name": "tunnel.example.com", "certificate_arn": arn}
        return problems(
            check_account(caller(aws), settings(PROD, custom_domain=domain), REGION, True)
        )

    missing = f"arn:aws:acm:{REGION}:{account}:certificate/00000000-0000-0000-0000-000000000000"
    fix = (
        "request or import an ACM certificate for *.tunnel.example.com in us-east-1 and set "
        "custom_domain.certificate_arn (or remove it: with custom_domain.hosted_zone_id the "
        "domain stack creates the certificate)"
    )
    assert findings(missing) == [f"certificate {missing} does not exist; {fix}"]
    elsewhere = missing.replace(REGION, "eu-west-1")
    assert findings(elsewhere) == [
        f"certificate {elsewhere} is in eu-west-1, but a REGIONAL domain needs one in "
        f"us-east-1; {fix}"
    ]
    assert findings(wrong["CertificateArn"]) == [
        f"certificate {wrong['CertificateArn']} covers www.other.test, not "
        f"*.tunnel.example.com; {fix}"
    ]
    assert findings(right["CertificateArn"]) == []


def test_the_hosted_zone_must_exist_and_hold_the_domain(aws, tmp_path):
    cert, key = certificate(tmp_path, "*.tunnel.example.com")
    arn = aws("acm").import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    route53 = aws("route53")
    parent = route53.create_hosted_zone(Name="example.com.", CallerReference="a")
    other = route53.create_hosted_zone(Name="other.test.", CallerReference="b")

    def findings(zone_id: str, certificate_arn: str | None = arn) -> list[str]:
        domain = {"domain_name": "tunnel.example.com", "hosted_zone_id": zone_id}
        if certificate_arn:
            domain["certificate_arn"] = certificate_arn
        return problems(
            check_account(caller(aws), settings(PROD, custom_domain=domain), REGION, True)
        )

    parent_id = parent["HostedZone"]["Id"].rsplit("/", 1)[-1]
    other_id = other["HostedZone"]["Id"].rsplit("/", 1)[-1]
    assert findings(parent_id) == []
    # With a zone and no certificate the domain stack requests one: nothing to check before.
    assert findings(parent_id, certificate_arn=None) == []
    assert findings(other_id) == [
        f"hosted zone {other_id} is other.test, which cannot hold *.tunnel.example.com; "
        "set custom_domain.hosted_zone_id to the zone of tunnel.example.com"
    ]
    assert findings("ZNOSUCHZONE1") == [
        "hosted zone ZNOSUCHZONE1 does not exist; set custom_domain.hosted_zone_id to the zone "
        "of tunnel.example.com, or remove it, give custom_domain.certificate_arn and create the "
        "DNS record yourself"
    ]


@pytest.fixture(scope="module")
def small_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProject]:
    """A project copy on an account whose concurrency quota is 100 (new accounts get 10-50)."""
    with project_on_its_own_emulator(
        tmp_path_factory, "small-account", EMULATOR_LAMBDA_CONCURRENT_EXECUTIONS="100"
    ) as project:
        yield project


def test_a_launch_that_over_reserves_is_refused_before_any_stack_is_touched(small_account):
    config = small_account.root / "config/dev/config.yaml"
    config.write_text(
        config.read_text().replace(
            "  log_retention_days: 7\n",
            "  log_retention_days: 7\n  reserved_concurrency:\n    forwarding: 50\n",
        )
    )
    launch = small_account.sceptre("launch", "-y", "dev")
    assert launch.returncode != 0, launch.output
    refusal = (
        "preflight dev: reserved_concurrency reserves 50 executions, but the account (quota "
        "100, 100 unreserved) can reserve 0 more and keep the 100 Lambda requires unreserved; "
        "lower reserved_concurrency in config/dev/config.yaml, or ask AWS to raise the Lambda "
        "quota 'Concurrent executions'"
    )
    assert refusal in launch.output
    assert "Traceback" not in launch.output
    stacks = small_account.client("cloudformation").describe_stacks()["Stacks"]
    # Only the account-wide stack may have been created, in parallel with the first layer.
    assert [s["StackName"] for s in stacks if "-dev-" in s["StackName"]] == []
    functions = small_account.client("lambda").list_functions()["Functions"]
    assert functions == []


def zone_id_of(created: dict) -> str:
    return str(created["HostedZone"]["Id"].rsplit("/", 1)[-1])


def test_a_private_hosted_zone_is_refused(aws):
    # Its records resolve only inside its VPCs: the wildcard alias would never reach a browser.
    vpc = aws("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    private = aws("route53").create_hosted_zone(
        Name="tunnel.example.com.",
        CallerReference="private",
        HostedZoneConfig={"PrivateZone": True, "Comment": "inside the VPC only"},
        VPC={"VPCRegion": REGION, "VPCId": vpc},
    )
    zone_id = zone_id_of(private)
    domain = {"domain_name": "tunnel.example.com", "hosted_zone_id": zone_id}
    found = check_account(caller(aws), settings(PROD, custom_domain=domain), REGION, True)
    assert problems(found) == [
        f"hosted zone {zone_id} (tunnel.example.com) is private: its records resolve only inside "
        "its VPCs, so no tunnel would resolve on the internet; set custom_domain.hosted_zone_id "
        "to the public zone of tunnel.example.com"
    ]


def test_a_domain_not_on_the_public_suffix_list_is_warned_about_not_refused(aws):
    zone = aws("route53").create_hosted_zone(Name="example.com.", CallerReference="psl")

    def findings(name: str):
        domain = {"domain_name": name, "hosted_zone_id": zone_id_of(zone)}
        return check_account(caller(aws), settings(PROD, custom_domain=domain), REGION, True)

    found = findings("tunnel.example.com")
    assert found.failures == []
    assert [f"{w.problem}; {w.fix}" for w in found.warnings] == [
        "tunnel.example.com is not on the Public Suffix List, so browsers treat every tunnel "
        "under it as one site: a page in one tunnel can set cookies for all of them "
        "(document.cookie with domain=tunnel.example.com); before production, have it added "
        "to the list's private section (https://github.com/publicsuffix/list), as ngrok did for "
        "ngrok.io; see the README"
    ]
    # Without a custom domain there is nothing to warn about.
    assert check_account(caller(aws), settings(DEV), REGION, True).warnings == []


def test_the_public_suffix_list_is_read_as_browsers_read_it():
    from tunnel_infra.public_suffix import is_public_suffix

    assert is_public_suffix("ngrok.io")  # a private-section entry, as a tunnel's should be
    assert is_public_suffix("eu.ngrok.io") and not is_public_suffix("abc.eu.ngrok.io")
    assert is_public_suffix("co.uk") and is_public_suffix("com")
    assert is_public_suffix("anything.ck") and not is_public_suffix("www.ck")  # *.ck, !www.ck
    assert not is_public_suffix("tunnel.example.com")
    assert is_public_suffix("NGROK.IO.")  # as configured, case and a trailing dot aside


def regional_caller(region: str):
    import boto3

    def call(service: str, command: str, kwargs: dict | None = None):
        return getattr(boto3.client(service, region_name=region), command)(**(kwargs or {}))

    return call


def test_an_account_stack_of_another_region_or_profile_does_not_create_the_role_here(aws):
    from hooks.preflight import AccountStack, Placement

    # eu-west-1 of the emulator has no CloudWatch role: only the account stack would make one.
    here = "eu-west-1"
    path = "account/api-gateway-logging.yaml"

    def findings(account: Placement, placement: Placement) -> list[str]:
        return problems(
            check_account(
                regional_caller(here),
                settings(DEV),
                here,
                True,
                placement=placement,
                account_stack=AccountStack(path, account),
            )
        )

    assert findings(Placement(here), Placement(here)) == []
    assert findings(Placement(REGION), Placement(here)) == [
        f"API Gateway has no CloudWatch role in {here} with profile (default), and {path} "
        f"creates it in {REGION} with profile (default); give dev an account stack of its own "
        f"region and profile (a copy of config/account/ whose config.yaml sets region: {here}), "
        "named in config/dev/routes.yaml dependencies and in preflight's cloudwatch_role_stack"
    ]
    assert findings(Placement(here), Placement(here, "other-account")) == [
        f"API Gateway has no CloudWatch role in {here} with profile other-account, and {path} "
        f"creates it in {here} with profile (default); give dev an account stack of its own "
        f"region and profile (a copy of config/account/ whose config.yaml sets region: {here} "
        "and profile: other-account), named in config/dev/routes.yaml dependencies and in "
        "preflight's cloudwatch_role_stack"
    ]


@pytest.fixture(scope="module")
def fresh_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProject]:
    """A project copy on an emulator of its own (no CloudWatch role in any region)."""
    with project_on_its_own_emulator(tmp_path_factory, "fresh-account") as project:
        yield project


def test_an_environment_in_another_region_than_the_account_stack_is_refused(fresh_account):
    config = fresh_account.root / "config/dev/config.yaml"
    config.write_text("region: eu-west-1\n" + config.read_text())
    launch = fresh_account.sceptre("launch", "-y", "dev")
    assert launch.returncode != 0, launch.output
    assert (
        "preflight dev: API Gateway has no CloudWatch role in eu-west-1 with profile (default), "
        "and account/api-gateway-logging.yaml creates it in us-east-1 with profile (default); "
        "give dev an account stack of its own region and profile"
    ) in launch.output
    assert "Traceback" not in launch.output
    session = fresh_account.session
    endpoint = fresh_account.environment["AWS_ENDPOINT_URL"]
    in_region = session.client("cloudformation", region_name="eu-west-1", endpoint_url=endpoint)
    assert in_region.describe_stacks()["Stacks"] == []  # nothing of dev was touched


# An existing function in place of ours (existing_functions): there, here, ours in contract.


def with_existing(arn: str):
    return settings(DEV, existing_functions={"forwarding": arn})


def test_an_existing_function_with_the_contract_tag_passes(aws):
    name = "preflight-tagged"
    arn = create_existing_function(
        aws("lambda"), aws("iam"), name, {PROTOCOL_TAG: PROTOCOL_VERSION}
    )
    found = check_account(caller(aws), with_existing(arn), REGION, creates_cloudwatch_role=True)
    assert problems(found) == []


def test_a_missing_existing_function_is_one_line_with_its_fix(aws):
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:preflight-nowhere"
    found = check_account(caller(aws), with_existing(arn), REGION, creates_cloudwatch_role=True)
    assert problems(found) == [
        f"existing_functions.forwarding {arn} does not exist; deploy it first, or remove "
        "existing_functions.forwarding from config/dev/config.yaml so that the functions "
        "stack creates ours"
    ]


def test_an_existing_function_of_another_region_is_one_line(aws):
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:preflight-elsewhere"
    found = check_account(caller(aws), with_existing(arn), REGION, creates_cloudwatch_role=True)
    assert problems(found) == [
        f"existing_functions.forwarding {arn} is in eu-west-1, but dev is launched in "
        f"{REGION}, where its alarms and invoke permission would be; name a function deployed "
        f"in {REGION} in config/dev/config.yaml"
    ]


@pytest.mark.parametrize(
    ("name", "tags", "shown"),
    [
        ("preflight-untagged", {"team": "edge"}, f"no {PROTOCOL_TAG} tag"),
        ("preflight-other-contract", {PROTOCOL_TAG: "0"}, f"{PROTOCOL_TAG}=0"),
    ],
)
def test_an_existing_function_without_our_contract_is_one_line(aws, name, tags, shown):
    arn = create_existing_function(aws("lambda"), aws("iam"), name, tags)
    found = check_account(caller(aws), with_existing(arn), REGION, creates_cloudwatch_role=True)
    assert problems(found) == [
        f"existing_functions.forwarding {arn} has {shown}, not {PROTOCOL_TAG}="
        f"{PROTOCOL_VERSION}: it may not speak this tunnel's handler contract; deploy a handler "
        f"written to the tunnel's contract {PROTOCOL_VERSION} (functions/forwarding/, see the "
        "README: an existing function in place of ours), then aws lambda tag-resource "
        f"--resource {arn} --tags {PROTOCOL_TAG}={PROTOCOL_VERSION}"
    ]
