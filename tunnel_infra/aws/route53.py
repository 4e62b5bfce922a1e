"""Route 53: the alias records that send ``*.<domain>`` to the API's regional domain."""

from __future__ import annotations

from troposphere import AWSHelperFn
from troposphere.route53 import AliasTarget, RecordSetType

from tunnel_infra.blueprint import Blueprint


def wildcard_alias(
    stack: Blueprint,
    logical_id: str,
    hosted_zone_id: str,
    domain_name: str,
    target_name: AWSHelperFn,
    target_zone_id: AWSHelperFn,
) -> RecordSetType:
    """``*.<domain>`` A (alias) to the regional endpoint; an alias answers like the target."""
    return stack.add(
        RecordSetType(
            logical_id,
            HostedZoneId=hosted_zone_id,
            Name=f"*.{domain_name}.",
            Type="A",
            AliasTarget=AliasTarget(
                DNSName=target_name, HostedZoneId=target_zone_id, EvaluateTargetHealth=False
            ),
        )
    )
