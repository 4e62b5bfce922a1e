"""Domain: the wildcard custom domain *.<domain_name> in front of the public HTTP API.

DNS: with ``custom_domain.hosted_zone_id`` the alias record is created here; without it, the
``!dns_record`` hook prints the record to create at the user's DNS provider after each launch.
"""

from troposphere import GetAtt, Ref

from tunnel_infra.aws import apigatewayv2, route53
from tunnel_infra.blueprint import Blueprint


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "wildcard custom domain")
    domain = stack.settings.require_custom_domain()
    http_api = Ref(stack.parameter("HttpApiId", "Id of the public HTTP API"))
    http_stage = Ref(stack.parameter("HttpStageName", "Stage of the public HTTP API"))

    wildcard_domain = apigatewayv2.wildcard_domain(
        stack, "WildcardDomain", domain.domain_name, domain.certificate_arn
    )
    apigatewayv2.api_mapping(stack, "WildcardDomainMapping", wildcard_domain, http_api, http_stage)
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
    stack.output("DomainTarget", target_name, f"Point *.{domain.domain_name} here (alias or CNAME)")
    stack.output("DomainHostedZoneId", target_zone, "Hosted zone of the alias target")
    stack.output(
        "DomainRecordManaged",
        "true" if domain.hosted_zone_id else "false",
        "Whether this stack created the DNS record",
    )
    return stack.render()
