"""ACM: the wildcard certificate of the tunnels' domain, validated through its Route 53 zone.

With ``DomainValidationOptions`` naming the zone and ``ValidationMethod: DNS``, CloudFormation
writes ACM's validation CNAME into the zone itself and completes the resource only once the
certificate is issued ("domain validation is handled automatically if ... the certificate domain
is hosted in Amazon Route 53, the domain resides in your AWS account, and you are using DNS
validation"), so whatever maps the domain can rely on an ISSUED certificate. The validation
option's ``DomainName`` must be the certificate's own, or no record is created. Sources:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-certificatemanager-certificate.html
and its DomainValidationOption page.
"""

from __future__ import annotations

from troposphere.certificatemanager import Certificate, DomainValidationOption

from tunnel_infra.blueprint import Blueprint
from tunnel_infra.suppressions import skip_checkov


def wildcard_certificate(
    stack: Blueprint, logical_id: str, domain_name: str, hosted_zone_id: str
) -> Certificate:
    """A public certificate for ``*.<domain_name>``, in the stack's region (a REGIONAL API
    Gateway domain takes only a certificate of its own region)."""
    wildcard = f"*.{domain_name}"
    certificate = Certificate(
        logical_id,
        DomainName=wildcard,
        ValidationMethod="DNS",
        DomainValidationOptions=[
            DomainValidationOption(DomainName=wildcard, HostedZoneId=hosted_zone_id)
        ],
        # Browsers require public certificates to be in the transparency logs.
        CertificateTransparencyLoggingPreference="ENABLED",
    )
    skip_checkov(
        certificate,
        "CKV2_AWS_71",
        "Each tunnel is a host of its own under the wildcard API Gateway domain, which takes "
        "a wildcard certificate",
    )
    return stack.add(certificate)
