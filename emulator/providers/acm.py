"""AWS::CertificateManager::Certificate provider backed by moto's acm and route53 backends.

moto 5.2.5 has ACM's API (RequestCertificate, DescribeCertificate) but no CloudFormation model
for certificates, so a stack's certificate was never requested. Here it is requested for real,
and validated as CloudFormation validates a certificate whose ``DomainValidationOptions`` name
a Route 53 hosted zone with ``ValidationMethod: DNS``: the validation CNAME that
``DescribeCertificate`` reports for each name is written into that zone, and the resource is
complete once the certificate is ISSUED ("domain validation is handled automatically if ... the
certificate domain is hosted in Amazon Route 53, the domain resides in your AWS account, and you
are using DNS validation", https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-certificatemanager-certificate.html).
On AWS that takes minutes (ACM checks the record over DNS); here it is at once.

Without a zone CloudFormation waits, up to ACM's 72 hours, for someone to add the record; the
emulator does not wait: the certificate stays PENDING_VALIDATION (until moto's own timer issues
it), and a custom domain refuses it as API Gateway does (aws_fidelity.rules).

Deleting the certificate leaves its validation record in the zone, as CloudFormation does
(aws-cloudformation/cloudformation-coverage-roadmap#1603): ACM reuses that record for another
certificate of the same name.
"""

from __future__ import annotations

from typing import Any

from moto.acm.models import AWSCertificateManagerBackend, CertBundle, acm_backends
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import ServiceException
from moto.route53.models import route53_backends
from moto.utilities.utils import get_partition

from aws_fidelity import rules

from .base import Properties, ProviderResource, tags_as_list

ISSUED = "ISSUED"


def _backend(account_id: str, region_name: str) -> AWSCertificateManagerBackend:
    return acm_backends[account_id][region_name]


class CertificateManagerCertificate(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::CertificateManager::Certificate"
    # "Update requires: Replacement" in the resource's reference page; tags update in place.
    REPLACE_ON = frozenset(
        {
            "CertificateAuthorityArn",
            "DomainName",
            "DomainValidationOptions",
            "KeyAlgorithm",
            "SubjectAlternativeNames",
            "ValidationMethod",
        }
    )

    certificate_arn: str

    @property
    def physical_resource_id(self) -> str:
        return self.certificate_arn  # Ref: the certificate's ARN

    def _certificate(self) -> CertBundle:
        return _backend(self.account_id, self.region_name).get_certificate(self.certificate_arn)

    def create(self) -> None:
        p = self.properties
        options = {}
        if p.get("CertificateTransparencyLoggingPreference"):
            options["CertificateTransparencyLoggingPreference"] = str(
                p["CertificateTransparencyLoggingPreference"]
            )
        self.certificate_arn = _backend(self.account_id, self.region_name).request_certificate(
            domain_name=str(p["DomainName"]),
            idempotency_token=None,  # type: ignore[arg-type]
            subject_alt_names=list(p.get("SubjectAlternativeNames") or []),
            tags=tags_as_list(p.get("Tags")),
            cert_authority_arn=p.get("CertificateAuthorityArn"),
            cert_options=options or None,
        )
        zones = _validation_zones(p)
        if str(p.get("ValidationMethod", "EMAIL")).upper() == "DNS" and zones:
            try:
                self._validate_in(zones)
            except Exception:
                self.destroy()  # as a failed resource leaves nothing behind
                raise

    def _validate_in(self, zones: dict[str, str]) -> None:
        """Write each name's validation CNAME into its zone, then issue the certificate."""
        certificate = self._certificate()
        described = certificate.describe()["Certificate"]
        for option in described.get("DomainValidationOptions", []):
            zone_id = zones.get(option["DomainName"])
            if zone_id is None:
                continue  # CloudFormation would wait for this name's record: so does ACM
            record = option["ResourceRecord"]
            _upsert_cname(self.account_id, self.region_name, zone_id, record)
        if set(zones) >= {o["DomainName"] for o in described.get("DomainValidationOptions", [])}:
            certificate.status = ISSUED

    def apply_update(self, old: Properties) -> None:
        backend = _backend(self.account_id, self.region_name)
        backend.remove_tags_from_certificate(self.certificate_arn, tags_as_list(old.get("Tags")))
        tags = tags_as_list(self.properties.get("Tags"))
        if tags:
            backend.add_tags_to_certificate(self.certificate_arn, tags)

    def destroy(self) -> None:
        backend = _backend(self.account_id, self.region_name)
        if self.certificate_arn in backend._certificates:
            backend.delete_certificate(self.certificate_arn)


def _validation_zones(properties: Properties) -> dict[str, str]:
    """The hosted zone of each name, from ``DomainValidationOptions``' ``HostedZoneId``."""
    zones = {}
    for option in properties.get("DomainValidationOptions") or []:
        if isinstance(option, dict) and option.get("HostedZoneId") and option.get("DomainName"):
            zones[str(option["DomainName"])] = str(option["HostedZoneId"])
    return zones


def _upsert_cname(account_id: str, region_name: str, zone_id: str, record: dict[str, Any]) -> None:
    route53 = route53_backends[account_id][get_partition(region_name)]
    change = {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": record["Name"],
            "Type": record["Type"],
            "TTL": 300,
            "ResourceRecords": [{"Value": record["Value"]}],
        },
    }
    try:
        route53.change_resource_record_sets(zone_id, [change])
    except ServiceException as error:
        # Route 53's own refusal (no such zone, a name the zone cannot hold), as the
        # certificate's failure.
        status = 404 if error.code == "NoSuchHostedZone" else 400
        raise rules.Refused(error.code, error.message, status) from None
