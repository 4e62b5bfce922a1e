"""AWS WAF: the public edge's web ACL, fair shares per client IP and per tunnel (Host).

A REGIONAL web ACL that allows by default, with two rate-based rules: one aggregates on the
client IP (``AggregateKeyType: IP``), one on the ``Host`` header (``CUSTOM_KEYS``, lowercased, so
``Demo.tunnel.example.com`` and ``demo.tunnel.example.com`` are one tunnel). An aggregation
instance over its limit in the evaluation window gets the rule's action on further requests: a
Block with a custom 429, a short plain-text body and ``Retry-After``, until its rate drops.

Facts relied on (AWS WAF developer guide and API reference):
- A web ACL can protect an API Gateway REST API stage (not an HTTP or WebSocket API); its scope
  is REGIONAL, and the association names the stage as
  ``arn:<partition>:apigateway:<region>::/restapis/<api-id>/stages/<stage>``
  (AWS::WAFv2::WebACLAssociation, ResourceArn).
- Rate-based rules: limit 10 to 2,000,000,000 per window; windows 60, 120, 300 or 600 s ("Rate-
  based rule high-level settings in AWS WAF",
  https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html).
- A header as a custom aggregation key: each distinct value is an aggregation instance, and a
  request without the header is not counted by that rule (API_RateBasedStatementCustomKey,
  API_RateLimitHeader).
- Custom responses for Block: any status 200-599, any header but content-type, a body from the
  web ACL's ``CustomResponseBodies`` ("Custom responses for Block actions",
  https://docs.aws.amazon.com/waf/latest/developerguide/customizing-the-response-for-blocked-requests.html).
"""

from __future__ import annotations

from troposphere import AWSHelperFn, GetAtt
from troposphere.wafv2 import (
    AllowAction,
    BlockAction,
    CustomHTTPHeader,
    CustomResponse,
    CustomResponseBody,
    DefaultAction,
    RateBasedStatement,
    RateBasedStatementCustomKey,
    RateLimitHeader,
    RuleAction,
    Statement,
    TextTransformation,
    VisibilityConfig,
    WebACL,
    WebACLAssociation,
    WebACLRule,
)

from tunnel_infra.blueprint import Blueprint
from tunnel_infra.settings import Settings
from tunnel_infra.suppressions import skip_checkov

RATE_LIMITED_STATUS = 429
RATE_LIMITED_BODY_KEY = "rate-limited"
# The Host header names the tunnel at the edge (one host per tunnel under the wildcard domain).
TUNNEL_HEADER = "host"


def rate_limited_body(window_seconds: int) -> str:
    """The 429's body: short, plain, and saying when to come back."""
    return f"Too many requests: try again in {window_seconds} seconds.\n"


def web_acl(
    stack: Blueprint, settings: Settings, stage_arn: AWSHelperFn | str
) -> tuple[WebACL, WebACLAssociation]:
    """The web ACL with the per-client and per-tunnel rate rules of ``settings.waf``, and its
    association with the REST API stage ``stage_arn``
    (``arn:aws:apigateway:<region>::/restapis/<id>/stages/<stage>``, e.g. a ``Sub``).
    Call only where ``settings.waf.enabled``."""
    waf = settings.waf
    if not waf.enabled:
        raise ValueError(f"{settings.environment} has no waf settings: no web ACL to make")
    # WAF checks the rate often but looks back a whole window: after a block, the rate takes up
    # to that long to fall under the limit.
    retry_after = str(waf.window_seconds)
    blocked = RuleAction(
        Block=BlockAction(
            CustomResponse=CustomResponse(
                ResponseCode=RATE_LIMITED_STATUS,
                CustomResponseBodyKey=RATE_LIMITED_BODY_KEY,
                ResponseHeaders=[CustomHTTPHeader(Name="Retry-After", Value=retry_after)],
            )
        )
    )
    per_client = RateBasedStatement(
        AggregateKeyType="IP",
        Limit=waf.per_client,
        EvaluationWindowSec=waf.window_seconds,
    )
    per_tunnel = RateBasedStatement(
        AggregateKeyType="CUSTOM_KEYS",
        CustomKeys=[
            RateBasedStatementCustomKey(
                Header=RateLimitHeader(
                    Name=TUNNEL_HEADER,
                    TextTransformations=[TextTransformation(Priority=0, Type="LOWERCASE")],
                )
            )
        ],
        Limit=waf.per_tunnel,
        EvaluationWindowSec=waf.window_seconds,
    )
    acl = WebACL(
        "EdgeWebAcl",
        Name=stack.name("edge"),
        Description="Fair shares at the public edge: requests per client IP and per tunnel",
        Scope="REGIONAL",
        DefaultAction=DefaultAction(Allow=AllowAction()),
        CustomResponseBodies={
            RATE_LIMITED_BODY_KEY: CustomResponseBody(
                ContentType="TEXT_PLAIN", Content=rate_limited_body(waf.window_seconds)
            )
        },
        Rules=[
            _rule(stack, "per-client", 0, per_client, blocked),
            _rule(stack, "per-tunnel", 1, per_tunnel, blocked),
        ],
        VisibilityConfig=_visibility(stack.name("edge")),
    )
    skip_checkov(
        acl,
        "CKV_AWS_192",
        "This web ACL shares the edge fairly (rate limits) and inspects no content: a tunnel "
        "forwards any request to its developer's own app, which may be testing such payloads; "
        "the Known Bad Inputs group would also add a rule's monthly charge",
    )
    stack.add(acl)
    association = stack.add(
        WebACLAssociation(
            "EdgeWebAclAssociation", ResourceArn=stage_arn, WebACLArn=GetAtt(acl, "Arn")
        )
    )
    return acl, association


def _rule(
    stack: Blueprint, name: str, priority: int, statement: RateBasedStatement, action: RuleAction
) -> WebACLRule:
    return WebACLRule(
        Name=name,
        Priority=priority,
        Statement=Statement(RateBasedStatement=statement),
        Action=action,
        VisibilityConfig=_visibility(stack.name(f"edge-{name}")),
    )


def _visibility(metric_name: str) -> VisibilityConfig:
    """CloudWatch metrics (AWS/WAFV2, BlockedRequests per rule) and sampled requests."""
    return VisibilityConfig(
        CloudWatchMetricsEnabled=True, MetricName=metric_name, SampledRequestsEnabled=True
    )
