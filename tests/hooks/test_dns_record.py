"""Without a hosted zone the launch says which record to create; with one, that it exists."""

from __future__ import annotations

from hooks.dns_record import instruction

OUTPUTS = {
    "DomainName": "*.tunnel.example.com",
    "DomainTarget": "d-abc123.execute-api.us-east-1.amazonaws.com",
    "DomainHostedZoneId": "Z1UJRXOUMOOFQ8",
}


def test_without_a_hosted_zone_the_record_to_create_is_printed():
    assert instruction({**OUTPUTS, "DomainRecordManaged": "false"}) == (
        "DNS: create the record *.tunnel.example.com CNAME "
        "d-abc123.execute-api.us-east-1.amazonaws.com at your DNS provider (or, in Route 53, "
        "an alias A record to it in zone Z1UJRXOUMOOFQ8); tunnels answer once it resolves"
    )


def test_with_a_hosted_zone_the_alias_is_reported():
    assert instruction({**OUTPUTS, "DomainRecordManaged": "true"}) == (
        "DNS: *.tunnel.example.com is an alias to d-abc123.execute-api.us-east-1.amazonaws.com "
        "in the configured hosted zone"
    )


def test_a_stack_without_domain_outputs_prints_nothing():
    assert instruction({}) is None
