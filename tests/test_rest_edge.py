"""The public REST API, where a custom domain is set: its forwarding integration streams.

Rendered from dev's settings with and without a domain (dev has none: its snapshots, in
test_snapshots, show the HTTP API alone, byte for byte)."""

from __future__ import annotations

from cfn_flip import load_yaml

from tests.conftest import PROJECT
from tests.sceptre_config import read_config
from tunnel_infra.sceptre_handler import load_entry_file

ROUTES = load_entry_file(PROJECT / "templates" / "routes.py")
DEV = read_config("dev/config.yaml")["sceptre_user_data"]
DOMAIN = {"domain_name": "tunnel.test", "hosted_zone_id": "Z0123456789ABC"}


def rendered(custom_domain: dict | None) -> dict:
    data = dict(DEV)
    if custom_domain is not None:
        data["custom_domain"] = custom_domain
    return load_yaml(ROUTES.sceptre_handler(data))


def of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def test_without_a_domain_there_is_no_rest_api():
    template = rendered(None)
    assert not [
        r for r in template["Resources"].values() if r["Type"].startswith("AWS::ApiGateway::")
    ]
    assert "RestApiId" not in template["Outputs"]


def test_with_a_domain_a_regional_rest_api_streams_every_path_to_forwarding():
    template = rendered(DOMAIN)
    (api,) = of_type(template, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert api["Properties"]["DisableExecuteApiEndpoint"] is True
    (proxy,) = of_type(template, "AWS::ApiGateway::Resource").values()
    assert proxy["Properties"]["PathPart"] == "{proxy+}"
    methods = of_type(template, "AWS::ApiGateway::Method")
    resource_ids = [dict(m["Properties"]["ResourceId"]) for m in methods.values()]
    assert sorted(resource_ids, key=str) == sorted(
        [{"Fn::GetAtt": ["RestApi", "RootResourceId"]}, {"Ref": "RestProxyResource"}], key=str
    )
    for method in methods.values():
        properties = method["Properties"]
        assert (properties["HttpMethod"], properties["AuthorizationType"]) == ("ANY", "NONE")
        integration = properties["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["IntegrationHttpMethod"] == "POST"
        assert integration["ResponseTransferMode"] == "STREAM"
        assert integration["TimeoutInMillis"] == 900_000
        uri, variables = integration["Uri"]["Fn::Sub"]
        assert uri.endswith(
            ":lambda:path/2021-11-15/functions/${FunctionArn}/response-streaming-invocations"
        )
        assert variables == {"FunctionArn": {"Ref": "ForwardingFunctionArn"}}


def test_with_a_domain_only_that_rest_api_and_stage_may_invoke_forwarding_through_it():
    template = rendered(DOMAIN)
    permission = of_type(template, "AWS::Lambda::Permission")["RestForwardingPermission"]
    properties = permission["Properties"]
    assert properties["Action"] == "lambda:InvokeFunction"
    assert properties["FunctionName"] == {"Ref": "ForwardingFunctionArn"}
    arn, variables = properties["SourceArn"]["Fn::Sub"]
    assert arn.endswith(":${ApiId}/dev/*/*")
    assert variables == {"ApiId": {"Ref": "RestApi"}}


def test_with_a_domain_the_rest_stage_is_throttled_and_logged_as_the_http_stage():
    template = rendered(DOMAIN)
    (stage,) = of_type(template, "AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    http_stage = of_type(template, "AWS::ApiGatewayV2::Stage")["HttpStage"]
    http_limits = http_stage["Properties"]["DefaultRouteSettings"]
    (setting,) = properties["MethodSettings"]
    assert (setting["HttpMethod"], setting["ResourcePath"]) == ("*", "/*")
    assert setting["ThrottlingBurstLimit"] == http_limits["ThrottlingBurstLimit"]
    assert setting["ThrottlingRateLimit"] == http_limits["ThrottlingRateLimit"]
    assert properties["StageName"] == "dev"
    assert properties["AccessLogSetting"]["DestinationArn"] == {
        "Fn::GetAtt": ["RestAccessLog", "Arn"]
    }
    deployment = properties["DeploymentId"]["Ref"]
    assert sorted(template["Resources"][deployment]["DependsOn"]) == [
        "RestProxyMethod",
        "RestProxyResource",
        "RestRootMethod",
    ]
    assert template["Outputs"]["RestStageName"]["Value"] == {"Ref": "RestStage"}
    # Its 429s count in the same metric as the HTTP stage's (one alarm watches both).
    filters = of_type(template, "AWS::Logs::MetricFilter")
    metric_names = {
        f["Properties"]["MetricTransformations"][0]["MetricName"] for f in filters.values()
    }
    assert len(filters) == 2 and len(metric_names) == 1
