"""rules.check_domain_certificate: a REGIONAL custom domain takes only an ISSUED ACM certificate
of the API's own region. moto created the domain with any certificate ARN at all, so a prod
whose certificate was in us-east-1 while its stacks were in eu-west-1 launched here, and failed
on AWS."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from aws_fidelity import rules

from .conftest import Account, handler_message

ACCOUNT = "123456789012"  # the emulator's
ARN = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0b5f9d7e-1d3c-4a55-9a4b-2f0e6c1d7a10"


def refusal(arn: str, region: str, status: str | None) -> str:
    with pytest.raises(rules.Refused) as refused:
        rules.check_domain_certificate(arn, region, ACCOUNT, status)
    assert (refused.value.code, refused.value.status) == ("BadRequestException", 400)
    return refused.value.message


def test_the_rule() -> None:
    assert refusal(ARN, "eu-west-1", "ISSUED") == (
        f"Invalid certificate ARN: {ARN}. Certificate must be in 'eu-west-1'."
    )
    assert refusal("not-an-arn", "us-east-1", None) == (
        "Invalid certificate ARN: not-an-arn. Certificate must be in 'us-east-1'."
    )
    assert refusal(ARN, "us-east-1", None) == "The provided certificate does not exist."
    assert refusal(ARN, "us-east-1", "PENDING_VALIDATION") == (
        f"Certificate {ARN} in account {ACCOUNT} not yet issued"
    )
    assert "not yet issued" in refusal(ARN, "us-east-1", "EXPIRED")
    rules.check_domain_certificate(ARN, "us-east-1", ACCOUNT, "ISSUED")


@pytest.fixture
def account(emulator_endpoint: str) -> Account:
    return Account(emulator_endpoint)


def imported_certificate(account: Account, tmp_path: Path, name: str) -> str:
    """An ISSUED certificate for ``name`` in the account's region (imported ones are)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"]
        + ["-addext", f"subjectAltName=DNS:{name}"],
        check=True,
        capture_output=True,
    )
    imported = account.client("acm").import_certificate(
        Certificate=cert.read_bytes(), PrivateKey=key.read_bytes()
    )
    return str(imported["CertificateArn"])


def domain(certificate_arn: str) -> dict[str, Any]:
    """The domain stack's wildcard domain, with ``certificate_arn``."""
    return {
        "Domain": {
            "Type": "AWS::ApiGatewayV2::DomainName",
            "Properties": {
                "DomainName": f"*.{uuid.uuid4().hex[:8]}.tunnel.test",
                "DomainNameConfigurations": [
                    {
                        "CertificateArn": certificate_arn,
                        "EndpointType": "REGIONAL",
                        "SecurityPolicy": "TLS_1_2",
                    }
                ],
            },
        }
    }


def assert_refused(account: Account, certificate_arn: str, message: str) -> None:
    resources = domain(certificate_arn)
    stack = account.stack(f"domain-{uuid.uuid4().hex[:8]}", resources)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    logical_id, status, reason = account.failure(stack["StackName"])
    assert (logical_id, status) == ("Domain", "CREATE_FAILED")
    assert handler_message(reason) == (message, "ApiGatewayV2", 400)
    names = {d["DomainName"] for d in account.client("apigatewayv2").get_domain_names()["Items"]}
    assert resources["Domain"]["Properties"]["DomainName"] not in names


def test_a_certificate_of_another_region_is_refused(account: Account, tmp_path: Path) -> None:
    elsewhere = imported_certificate(account.in_region("eu-west-1"), tmp_path, "*.tunnel.test")
    assert (
        account.in_region("eu-west-1")
        .client("acm")
        .describe_certificate(CertificateArn=elsewhere)["Certificate"]["Status"]
        == "ISSUED"
    )
    assert_refused(
        account,
        elsewhere,
        f"Invalid certificate ARN: {elsewhere}. Certificate must be in 'us-east-1'.",
    )


def test_a_certificate_that_does_not_exist_is_refused(account: Account) -> None:
    assert_refused(account, ARN, "The provided certificate does not exist.")


def test_a_certificate_not_yet_issued_is_refused(account: Account) -> None:
    requested = account.client("acm").request_certificate(
        DomainName="*.pending.tunnel.test", ValidationMethod="DNS"
    )["CertificateArn"]
    assert_refused(
        account, requested, f"Certificate {requested} in account {ACCOUNT} not yet issued"
    )


def test_an_issued_certificate_of_the_region_is_taken(account: Account, tmp_path: Path) -> None:
    arn = imported_certificate(account, tmp_path, "*.tunnel.test")
    stack = account.stack(f"domain-{uuid.uuid4().hex[:8]}", domain(arn))
    assert stack["StackStatus"] == "CREATE_COMPLETE", account.failure(stack["StackName"])
    resources = account.client("cloudformation").list_stack_resources(StackName=stack["StackName"])[
        "StackResourceSummaries"
    ]
    (created,) = [r["PhysicalResourceId"] for r in resources]
    (config,) = account.client("apigatewayv2").get_domain_name(DomainName=created)[
        "DomainNameConfigurations"
    ]
    assert config["CertificateArn"] == arn
    account.client("cloudformation").delete_stack(StackName=stack["StackName"])
