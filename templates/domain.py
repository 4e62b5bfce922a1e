"""Domain: the wildcard custom domain *.<domain_name> in front of the public HTTP API."""

from troposphere import GetAtt, Ref

from tunnel_infra.aws import apigatewayv2
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

    stack.output(
        "DomainTarget",
        GetAtt(wildcard_domain, "RegionalDomainName"),
        f"Point *.{domain.domain_name} here (CNAME or alias)",
    )
    stack.output(
        "DomainHostedZoneId",
        GetAtt(wildcard_domain, "RegionalHostedZoneId"),
        "Hosted zone of the alias target",
    )
    return stack.render()
