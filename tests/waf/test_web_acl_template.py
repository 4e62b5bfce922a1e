"""``wafv2.web_acl`` renders the edge's web ACL from the settings, and cfn-lint (with the project
rules) passes it, as ``make lint`` would the edge template that calls it."""

from __future__ import annotations

import pytest
from cfnlint.api import ManualArgs, lint

from tests.conftest import PROJECT
from tests.waf.templates import rendered, template, user_data
from tunnel_infra.aws import wafv2
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.settings import parse_settings

RULES = PROJECT / "cfn_lint_rules"


def properties(data: dict | None = None) -> dict:
    resource = template(data)["Resources"]["EdgeWebAcl"]
    assert resource["Type"] == "AWS::WAFv2::WebACL"
    return resource["Properties"]


def block_429(window: int) -> dict:
    return {
        "Block": {
            "CustomResponse": {
                "CustomResponseBodyKey": "rate-limited",
                "ResponseCode": 429,
                "ResponseHeaders": [{"Name": "Retry-After", "Value": str(window)}],
            }
        }
    }


def test_the_web_acl_has_a_rate_rule_per_client_ip_and_per_tunnel_host() -> None:
    acl = properties(user_data(per_client=150, per_tunnel=900, window_seconds=120))
    assert acl["Scope"] == "REGIONAL"
    assert acl["Name"] == "http-tunnel-edge-prod"
    assert acl["DefaultAction"] == {"Allow": {}}
    assert acl["CustomResponseBodies"] == {
        "rate-limited": {
            "ContentType": "TEXT_PLAIN",
            "Content": "Too many requests: try again in 120 seconds.\n",
        }
    }
    assert acl["Rules"] == [
        {
            "Name": "per-client",
            "Priority": 0,
            "Statement": {
                "RateBasedStatement": {
                    "AggregateKeyType": "IP",
                    "EvaluationWindowSec": 120,
                    "Limit": 150,
                }
            },
            "Action": block_429(120),
            "VisibilityConfig": {
                "CloudWatchMetricsEnabled": True,
                "MetricName": "http-tunnel-edge-per-client-prod",
                "SampledRequestsEnabled": True,
            },
        },
        {
            "Name": "per-tunnel",
            "Priority": 1,
            "Statement": {
                "RateBasedStatement": {
                    "AggregateKeyType": "CUSTOM_KEYS",
                    "CustomKeys": [
                        {
                            "Header": {
                                "Name": "host",
                                "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
                            }
                        }
                    ],
                    "EvaluationWindowSec": 120,
                    "Limit": 900,
                }
            },
            "Action": block_429(120),
            "VisibilityConfig": {
                "CloudWatchMetricsEnabled": True,
                "MetricName": "http-tunnel-edge-per-tunnel-prod",
                "SampledRequestsEnabled": True,
            },
        },
    ]
    assert acl["VisibilityConfig"]["MetricName"] == "http-tunnel-edge-prod"


def test_the_association_names_the_stage_and_the_web_acl() -> None:
    association = template()["Resources"]["EdgeWebAclAssociation"]
    assert association == {
        "Type": "AWS::WAFv2::WebACLAssociation",
        "Properties": {
            "ResourceArn": {
                "Fn::Sub": [
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/"
                    "${Stage}",
                    {"Api": {"Ref": "RestApiId"}, "Stage": {"Ref": "StageName"}},
                ]
            },
            "WebACLArn": {"Fn::GetAtt": ["EdgeWebAcl", "Arn"]},
        },
    }


@pytest.mark.parametrize("window", [60, 600])
def test_cfn_lint_passes_the_rendered_template(window: int) -> None:
    body = rendered(user_data(per_client=10, per_tunnel=2_000_000_000, window_seconds=window))
    matches = lint(body, config=ManualArgs(append_rules=[str(RULES)], regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_without_waf_settings_there_is_no_web_acl_to_make() -> None:
    settings = parse_settings({**user_data(), "waf": {"enabled": False}})
    stack = Blueprint(settings, "no waf")
    with pytest.raises(ValueError, match="prod has no waf settings"):
        wafv2.web_acl(stack, settings, "arn:aws:apigateway:us-east-1::/restapis/a/stages/b")
