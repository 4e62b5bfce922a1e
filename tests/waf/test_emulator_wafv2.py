"""AWS::WAFv2::WebACL and its association with a REST API stage are made for real in moto's
wafv2 backend: GetWebACLForResource on the stage answers with the web ACL and its rate rules."""

from __future__ import annotations

from typing import Any

from tests.waf.templates import template, user_data

ACCOUNT = "123456789012"  # the emulator's
API_ID, STAGE = "k3y9w2abcd", "live"
STAGE_ARN = f"arn:aws:apigateway:us-east-1::/restapis/{API_ID}/stages/{STAGE}"


def web_acl_for_stage(aws: Any) -> dict[str, Any] | None:
    return aws("wafv2").get_web_acl_for_resource(ResourceArn=STAGE_ARN).get("WebACL")


def test_the_stack_makes_the_web_acl_and_associates_it_with_the_stage(
    stacks: Any, aws: Any
) -> None:
    assert web_acl_for_stage(aws) is None
    name = stacks.create(template(), {"RestApiId": API_ID, "StageName": STAGE})

    acl = web_acl_for_stage(aws)
    assert acl is not None
    assert acl["Name"] == "http-tunnel-edge-prod"
    assert acl["DefaultAction"] == {"Allow": {}}
    per_client, per_tunnel = sorted(acl["Rules"], key=lambda rule: rule["Priority"])
    assert per_client["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
        "Limit": 2000,
    }
    assert per_tunnel["Statement"]["RateBasedStatement"]["CustomKeys"] == [
        {"Header": {"Name": "host", "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}]}}
    ]
    assert per_tunnel["Action"]["Block"]["CustomResponse"] == {
        "CustomResponseBodyKey": "rate-limited",
        "ResponseCode": 429,
        "ResponseHeaders": [{"Name": "Retry-After", "Value": "300"}],
    }
    assert acl["CustomResponseBodies"]["rate-limited"]["ContentType"] == "TEXT_PLAIN"

    # Ref is name|id|scope; the ARN is the regional web ACL's.
    outputs = stacks.outputs(name)
    acl_name, acl_id, scope = outputs["WebAclArnRef"].split("|")
    assert (acl_name, acl_id, scope) == ("http-tunnel-edge-prod", acl["Id"], "REGIONAL")
    assert acl["ARN"] == (
        f"arn:aws:wafv2:us-east-1:{ACCOUNT}:regional/webacl/http-tunnel-edge-prod/{acl_id}"
    )
    assert outputs["StageArn"] == STAGE_ARN

    # An update applies the new limits to the same web ACL.
    stacks.update(name, template(user_data(per_client=50)), {"RestApiId": API_ID})
    updated = web_acl_for_stage(aws)
    assert updated is not None and updated["Id"] == acl_id
    limits = [r["Statement"]["RateBasedStatement"]["Limit"] for r in updated["Rules"]]
    assert sorted(limits) == [50, 6000]

    stacks.delete(name)
    assert web_acl_for_stage(aws) is None
    assert aws("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"] == []
