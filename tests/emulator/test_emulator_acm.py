"""AWS::CertificateManager::Certificate: requested for real, validated through its hosted zone.

As CloudFormation does with ``DomainValidationOptions`` naming a Route 53 zone and DNS
validation: the validation CNAME that DescribeCertificate reports goes into the zone, and the
certificate is ISSUED when the resource completes (emulator/providers/acm.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.sceptre_config import read_config
from tunnel_infra.aws import acm
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.settings import parse_settings


def zone(aws: Any, name: str) -> str:
    created = aws("route53").create_hosted_zone(Name=f"{name}.", CallerReference=uuid.uuid4().hex)
    return str(created["HostedZone"]["Id"].rsplit("/", 1)[-1])


def certificate_template(domain_name: str, zone_id: str) -> dict[str, Any]:
    """What templates/domain.py declares for ``domain_name`` with a hosted zone, by the builder
    the templates use."""
    user_data = read_config("dev/config.yaml")["sceptre_user_data"]
    stack = Blueprint(parse_settings(user_data), "certificate")
    acm.wildcard_certificate(stack, "Certificate", domain_name, zone_id)
    template = stack.template.to_dict()
    template["Outputs"] = {"Arn": {"Value": {"Ref": "Certificate"}}}
    return template


def records(aws: Any, zone_id: str) -> dict[tuple[str, str], list[str]]:
    listed = aws("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {
        (r["Name"], r["Type"]): [v["Value"] for v in r.get("ResourceRecords", [])] for r in listed
    }


def test_a_certificate_validated_in_its_zone_is_issued(stacks: Any, aws: Any) -> None:
    domain = f"{uuid.uuid4().hex[:8]}.tunnel.test"
    zone_id = zone(aws, domain)
    name = stacks.create(certificate_template(domain, zone_id))
    arn = stacks.outputs(name)["Arn"]
    assert stacks.physical_ids(name)["Certificate"] == arn
    described = aws("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    assert (described["Status"], described["DomainName"]) == ("ISSUED", f"*.{domain}")
    assert arn.startswith("arn:aws:acm:us-east-1:")
    (validation,) = described["DomainValidationOptions"]
    record = validation["ResourceRecord"]
    assert record["Name"].endswith(f".{domain}.")  # under the zone, for the wildcard too
    assert records(aws, zone_id)[(record["Name"], "CNAME")] == [record["Value"]]
    tags = aws("acm").list_tags_for_certificate(CertificateArn=arn)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags}["Environment"] == "dev"

    stacks.delete(name)
    certificates = aws("acm").list_certificates()["CertificateSummaryList"]
    assert arn not in {c["CertificateArn"] for c in certificates}
    # CloudFormation leaves the validation record (ACM reuses it for the same name).
    assert (record["Name"], "CNAME") in records(aws, zone_id)


def test_a_zone_that_does_not_exist_fails_the_certificate(stacks: Any, aws: Any) -> None:
    cfn = aws("cloudformation")
    name = f"t-{uuid.uuid4().hex[:10]}"
    body = certificate_template("nowhere.tunnel.test", "ZNOSUCHZONE0000000000")
    before = {c["CertificateArn"] for c in aws("acm").list_certificates()["CertificateSummaryList"]}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    (failed,) = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed["LogicalResourceId"] == "Certificate"
    assert "No hosted zone found with ID: ZNOSUCHZONE0000000000" in failed["ResourceStatusReason"]
    after = {c["CertificateArn"] for c in aws("acm").list_certificates()["CertificateSummaryList"]}
    assert after == before  # the requested certificate went with the rollback
    cfn.delete_stack(StackName=name)


def test_without_a_zone_the_certificate_waits_for_validation(stacks: Any, aws: Any) -> None:
    template = certificate_template("byhand.tunnel.test", "unused")
    options = template["Resources"]["Certificate"]["Properties"]["DomainValidationOptions"]
    del options[0]["HostedZoneId"]
    name = stacks.create(template)
    described = aws("acm").describe_certificate(CertificateArn=stacks.outputs(name)["Arn"])
    # On AWS the stack would wait in CREATE_IN_PROGRESS for the record; here the certificate
    # is left pending, and a custom domain refuses it (aws_fidelity.rules).
    assert described["Certificate"]["Status"] == "PENDING_VALIDATION"
