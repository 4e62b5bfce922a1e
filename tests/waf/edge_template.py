"""A stand-in for the edge template: the web ACL on a REST API stage named by parameters.

The real edge template (the REST API and its stage) calls ``wafv2.web_acl`` the same way, with
the stage's ARN; here the API id and stage come in as parameters, so the ARN is a placeholder
that the tests fill (any id: an association does not check that the stage exists in moto).
"""

from __future__ import annotations

from troposphere import Ref, Sub

from tunnel_infra.aws import wafv2
from tunnel_infra.blueprint import Blueprint


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "WAF test edge")
    api = stack.parameter("RestApiId", "Id of the REST API", Default="a1b2c3d4e5")
    stage = stack.parameter("StageName", "Stage of the REST API", Default="live")
    stage_arn = Sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Stage}",
        Api=Ref(api),
        Stage=Ref(stage),
    )
    acl, _ = wafv2.web_acl(stack, stack.settings, stage_arn)
    stack.output_ref("WebAclArnRef", acl, "Ref of the web ACL (name|id|scope)")
    stack.output("StageArn", stage_arn, "The stage the web ACL protects")
    return stack.render()
