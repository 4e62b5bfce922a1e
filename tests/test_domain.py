"""The wildcard domain answers only once *.<domain> resolves: with a hosted zone the domain
stack creates the alias record; without one it creates none (the launch prints it)."""

from __future__ import annotations

import copy

from cfn_flip import load_yaml

from tests.conftest import PROJECT
from tests.sceptre_config import read_config
from tunnel_infra.sceptre_handler import load_entry_file

DOMAIN = load_entry_file(PROJECT / "templates" / "domain.py")
PROD = read_config("prod/config.yaml")["sceptre_user_data"]


def rendered(hosted_zone_id: str | None) -> dict:
    data = copy.deepcopy(PROD)
    if hosted_zone_id:
        data["custom_domain"]["hosted_zone_id"] = hosted_zone_id
    return load_yaml(DOMAIN.sceptre_handler(data))


def test_a_hosted_zone_gets_the_wildcard_alias_record():
    template = rendered("Z0123456789ABC")
    record = template["Resources"]["WildcardDomainRecord"]
    assert record["Type"] == "AWS::Route53::RecordSet"
    assert record["Properties"] == {
        "AliasTarget": {
            "DNSName": {"Fn::GetAtt": ["WildcardDomain", "RegionalDomainName"]},
            "EvaluateTargetHealth": False,
            "HostedZoneId": {"Fn::GetAtt": ["WildcardDomain", "RegionalHostedZoneId"]},
        },
        "HostedZoneId": "Z0123456789ABC",
        "Name": "*.tunnel.example.com.",
        "Type": "A",
    }
    assert template["Outputs"]["DomainRecordManaged"]["Value"] == "true"


def test_without_a_hosted_zone_no_record_is_created():
    template = rendered(None)
    types = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::Route53::RecordSet" not in types
    assert template["Outputs"]["DomainRecordManaged"]["Value"] == "false"
