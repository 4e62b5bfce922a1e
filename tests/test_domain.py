"""The wildcard domain, in both shapes of ``custom_domain``.

With a hosted zone the domain stack creates all of it: the wildcard certificate, validated
through the zone by CloudFormation (unless ``certificate_arn`` names one), the domain, its API
mapping and the alias record. Without a zone the certificate is the user's, and so is the DNS
record (the launch prints it)."""

from __future__ import annotations

import pytest
from cfn_flip import load_yaml

from tests.conftest import PROJECT
from tests.sceptre_config import read_config
from tunnel_infra.sceptre_handler import load_entry_file
from tunnel_infra.settings import SettingsError

DOMAIN = load_entry_file(PROJECT / "templates" / "domain.py")
DEV = read_config("dev/config.yaml")["sceptre_user_data"]
ZONE = "Z0123456789ABC"
ARN = "arn:aws:acm:us-east-1:111111111111:certificate/0b5f9d7e-1d3c-4a55-9a4b-2f0e6c1d7a10"


def rendered(**custom_domain: str) -> dict:
    data = {**DEV, "custom_domain": {"domain_name": "tunnel.test", **custom_domain}}
    return load_yaml(DOMAIN.sceptre_handler(data))


def of_type(template: dict, resource_type: str) -> dict:
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == resource_type]
    return resource["Properties"]


def test_a_hosted_zone_alone_gets_the_certificate_the_mapping_and_the_record():
    template = rendered(hosted_zone_id=ZONE)
    assert sorted(r["Type"] for r in template["Resources"].values()) == [
        "AWS::ApiGatewayV2::ApiMapping",
        "AWS::ApiGatewayV2::DomainName",
        "AWS::CertificateManager::Certificate",
        "AWS::Route53::RecordSet",
    ]
    certificate = of_type(template, "AWS::CertificateManager::Certificate")
    # CloudFormation writes the validation CNAME into the zone and waits for ISSUED; the
    # option's DomainName must be the certificate's own, or no record is written.
    assert {k: v for k, v in certificate.items() if k != "Tags"} == {
        "CertificateTransparencyLoggingPreference": "ENABLED",
        "DomainName": "*.tunnel.test",
        "DomainValidationOptions": [{"DomainName": "*.tunnel.test", "HostedZoneId": ZONE}],
        "ValidationMethod": "DNS",
    }
    (configuration,) = of_type(template, "AWS::ApiGatewayV2::DomainName")[
        "DomainNameConfigurations"
    ]
    assert configuration == {
        "CertificateArn": {"Ref": "WildcardCertificate"},
        "EndpointType": "REGIONAL",
        "SecurityPolicy": "TLS_1_2",
    }
    assert of_type(template, "AWS::ApiGatewayV2::ApiMapping") == {
        "ApiId": {"Ref": "RestApiId"},
        "DomainName": {"Ref": "WildcardDomain"},
        "Stage": {"Ref": "RestStageName"},
    }
    assert of_type(template, "AWS::Route53::RecordSet") == {
        "AliasTarget": {
            "DNSName": {"Fn::GetAtt": ["WildcardDomain", "RegionalDomainName"]},
            "EvaluateTargetHealth": False,
            "HostedZoneId": {"Fn::GetAtt": ["WildcardDomain", "RegionalHostedZoneId"]},
        },
        "HostedZoneId": ZONE,
        "Name": "*.tunnel.test.",
        "Type": "A",
    }
    outputs = {key: output["Value"] for key, output in template["Outputs"].items()}
    assert outputs["CertificateArn"] == {"Ref": "WildcardCertificate"}
    assert outputs["DomainRecordManaged"] == "true"


def test_a_hosted_zone_with_a_certificate_arn_uses_that_certificate():
    template = rendered(hosted_zone_id=ZONE, certificate_arn=ARN)
    types = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::CertificateManager::Certificate" not in types
    assert "AWS::Route53::RecordSet" in types
    (configuration,) = of_type(template, "AWS::ApiGatewayV2::DomainName")[
        "DomainNameConfigurations"
    ]
    assert configuration["CertificateArn"] == ARN


def test_without_a_hosted_zone_the_certificate_and_the_record_are_the_users():
    template = rendered(certificate_arn=ARN)
    assert sorted(r["Type"] for r in template["Resources"].values()) == [
        "AWS::ApiGatewayV2::ApiMapping",
        "AWS::ApiGatewayV2::DomainName",
    ]
    (configuration,) = of_type(template, "AWS::ApiGatewayV2::DomainName")[
        "DomainNameConfigurations"
    ]
    assert configuration["CertificateArn"] == ARN
    outputs = {key: output["Value"] for key, output in template["Outputs"].items()}
    assert (outputs["CertificateArn"], outputs["DomainRecordManaged"]) == (ARN, "false")


def test_without_a_hosted_zone_a_certificate_is_required_in_one_line():
    with pytest.raises(SettingsError) as raised:
        rendered()
    assert str(raised.value) == (
        "custom_domain.certificate_arn is required without custom_domain.hosted_zone_id: give "
        "the Route 53 zone of tunnel.test (the stacks then create the certificate and the "
        "records), or the ARN of an ACM certificate for *.tunnel.test in the stack's region"
    )


def test_without_a_domain_the_domain_stack_says_it_is_not_launched():
    with pytest.raises(SettingsError) as raised:
        DOMAIN.sceptre_handler(DEV)
    assert "dev has no custom domain: its domain stack is obsolete" in str(raised.value)
