"""Preflight: the account's prerequisites, each failure one line naming the fix, nothing
changed. Against the emulator, which is as strict as AWS here (aws_fidelity.rules)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import process
from hooks.preflight import check_account
from tests.local.conftest import LocalProject
from tests.project_copy import copy_project, emulator_environment
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
    root = tmp_path_factory.mktemp("small-account")
    copy_project(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMULATOR_LAMBDA_CONCURRENT_EXECUTIONS", "100")
        handle = process.start()
    try:
        yield LocalProject(root, emulator_environment(root, handle.url))
    finally:
        process.stop(handle)


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
