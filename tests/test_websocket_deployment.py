"""The WebSocket stage serves a deployment: a snapshot of routes, integrations and authorizer.

Its logical id carries a fingerprint of all of them, so any change to what it serves makes a
new deployment (a changed route alone is not enough: routes name the others by logical id).
"""

from __future__ import annotations

from cfn_flip import load_yaml

from tests.conftest import PROJECT
from tests.sceptre_config import read_config
from tunnel_infra.aws import apigatewayv2
from tunnel_infra.sceptre_handler import load_entry_file

ROUTES = load_entry_file(PROJECT / "templates" / "routes.py")
USER_DATA = read_config("dev/config.yaml")["sceptre_user_data"]


def deployments(template: dict, prefix: str = "WebSocketDeployment") -> list[str]:
    """The deployments of one API (the agents', by default; "AnswersDeployment")."""
    return [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::ApiGatewayV2::Deployment" and logical_id.startswith(prefix)
    ]


def rendered_routes() -> dict:
    return load_yaml(ROUTES.sceptre_handler(USER_DATA))


def test_the_stage_serves_the_one_deployment():
    template = rendered_routes()
    [deployment] = deployments(template)
    stage = template["Resources"]["WebSocketStage"]["Properties"]
    assert stage["DeploymentId"] == {"Ref": deployment}
    # Made after everything it snapshots.
    assert set(template["Resources"][deployment]["DependsOn"]) == {
        "ConnectRoute",
        "DisconnectRoute",
        "ResponseRoute",
        "ConnectIntegration",
        "DisconnectIntegration",
        "ResponseIntegration",
        "TokenAuthorizer",
    }


def test_a_changed_authorizer_identity_source_makes_a_new_deployment(monkeypatch):
    before = deployments(rendered_routes())
    monkeypatch.setattr(ROUTES, "TOKEN_SOURCE", "route.request.header.Authorization")
    changed = rendered_routes()
    assert changed["Resources"]["TokenAuthorizer"]["Properties"]["IdentitySource"] == [
        "route.request.header.Authorization"
    ]
    assert deployments(changed) != before


def test_a_changed_integration_makes_a_new_deployment(monkeypatch):
    # An integration's timeout: the routes that target it do not change.
    before = rendered_routes()
    monkeypatch.setattr(apigatewayv2, "WEBSOCKET_INTEGRATION_TIMEOUT_MS", 10_000)
    changed = rendered_routes()
    for route in ("ConnectRoute", "DisconnectRoute", "ResponseRoute"):
        assert changed["Resources"][route] == before["Resources"][route]
    assert deployments(changed) != deployments(before)


def test_the_answers_stage_serves_its_own_deployment():
    """The answers API's stage: IAM $connect on a MOCK integration (and its integration
    response), whoami to response; a changed MOCK template makes a new deployment."""
    template = rendered_routes()
    [deployment] = deployments(template, "AnswersDeployment")
    stage = template["Resources"]["AnswersStage"]["Properties"]
    assert stage["DeploymentId"] == {"Ref": deployment}
    assert set(template["Resources"][deployment]["DependsOn"]) == {
        "AnswersConnectRoute",
        "WhoamiRoute",
        "AnswersConnectIntegration",
        "AnswersConnectIntegrationResponse",
        "WhoamiIntegration",
    }
    connect = template["Resources"]["AnswersConnectRoute"]["Properties"]
    assert (connect["RouteKey"], connect["AuthorizationType"]) == ("$connect", "AWS_IAM")
    assert "AuthorizerId" not in connect
    mock = template["Resources"]["AnswersConnectIntegration"]["Properties"]
    assert mock["IntegrationType"] == "MOCK"
    routes = [
        r["Properties"]["RouteKey"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
        and r["Properties"]["ApiId"] == {"Ref": "AnswersApiId"}
    ]
    assert sorted(routes) == ["$connect", "whoami"]  # no $default: anything else is refused


def test_a_changed_mock_template_makes_a_new_answers_deployment(monkeypatch):
    before = deployments(rendered_routes(), "AnswersDeployment")
    monkeypatch.setattr(apigatewayv2, "MOCK_ACCEPT_TEMPLATE", '{"statusCode": 204}')
    assert deployments(rendered_routes(), "AnswersDeployment") != before
