"""Domain: the wildcard custom domain *.<domain_name> in front of the public REST API.

The REST API is the edge that streams responses (tunnel_infra.aws.apigateway). The domain is
API Gateway's V2 DomainName and the mapping a V2 ApiMapping, which map a regional REST API's
stage as they map an HTTP API's ("You can map HTTP and REST API stages to the same custom domain
name", https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-mappings.html;
only the V2 interface can mix them: "Mixing of REST APIs and HTTP APIs on the same domain name
can only be accomplished through API Gateway's V2 DomainName interface",
CodeGenieApp/serverless-express#596). So the domain of an environment that had one is updated
in place, not replaced. The mapping is a plain one (empty key, routing mode API_MAPPING_ONLY,
the default): routing rules would target REST APIs only and are not needed for one API.

Launched only where ``custom_domain.domain_name`` is set (``config/<env>/domain.yaml`` is
``obsolete`` otherwise). With ``custom_domain.hosted_zone_id`` this stack creates all of it: the
wildcard certificate (unless ``certificate_arn`` names one), validated through the zone by
CloudFormation, and the alias record. Without a zone the certificate is the user's
(``certificate_arn``), and the ``!dns_record`` hook prints the record to create at the user's
DNS provider after each launch.
"""

from troposphere import GetAtt, Ref

from tunnel_infra.aws import acm, apigatewayv2, route53
from tunnel_infra.blueprint import Blueprint


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "wildcard custom domain")
    domain = stack.settings.require_custom_domain()
    rest_api = Ref(stack.parameter("RestApiId", "Id of the public REST API"))
    rest_stage = Ref(stack.parameter("RestStageName", "Stage of the public REST API"))

    if domain.creates_certificate:
        certificate = Ref(
            acm.wildcard_certificate(
                stack, "WildcardCertificate", domain.domain_name, domain.hosted_zone_id
            )
        )
    else:
        certificate = domain.certificate_arn
    wildcard_domain = apigatewayv2.wildcard_domain(
        stack, "WildcardDomain", domain.domain_name, certificate
    )
    apigatewayv2.api_mapping(stack, "WildcardDomainMapping", wildcard_domain, rest_api, rest_stage)
    target_name = GetAtt(wildcard_domain, "RegionalDomainName")
    target_zone = GetAtt(wildcard_domain, "RegionalHostedZoneId")
    if domain.hosted_zone_id:
        route53.wildcard_alias(
            stack,
            "WildcardDomainRecord",
            domain.hosted_zone_id,
            domain.domain_name,
            target_name,
            target_zone,
        )

    stack.output("DomainName", f"*.{domain.domain_name}", "The tunnels' wildcard domain")
    stack.output("CertificateArn", certificate, f"The certificate of *.{domain.domain_name}")
    stack.output("DomainTarget", target_name, f"Point *.{domain.domain_name} here (alias or CNAME)")
    stack.output("DomainHostedZoneId", target_zone, "Hosted zone of the alias target")
    stack.output(
        "DomainRecordManaged",
        "true" if domain.hosted_zone_id else "false",
        "Whether this stack created the DNS record",
    )
    return stack.render()
