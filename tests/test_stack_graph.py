"""The stacks of an environment: wiring, order, names and tags."""

from __future__ import annotations

import re
import shutil

import pytest
from cfn_flip import load_yaml
from sceptre.context import SceptreContext
from sceptre.plan.plan import SceptrePlan
from tunnel_shared.protocol import PROTOCOL_TAG, PROTOCOL_VERSION

from tests.conftest import PROJECT
from tests.sceptre_config import configured_parameters, read_config, stack_names
from tunnel_infra.render import ENVIRONMENTS, render_environment
from tunnel_infra.settings import parse_settings


def plan(environment: str) -> SceptrePlan:
    return SceptrePlan(SceptreContext(project_path=str(PROJECT), command_path=environment))


def depth(stack) -> int:
    return 1 + max((depth(d) for d in stack.dependencies), default=-1)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_config_parameters_are_exactly_the_template_parameters(templates, environment):
    # What sceptre launch launches: an obsolete domain stack is neither launched nor rendered.
    stacks = [stack.name for stack in plan(environment).graph if not stack.obsolete]
    assert stacks
    for name in stacks:
        declared = set(templates[name].get("Parameters", {}))
        configured = configured_parameters(name)
        assert set(configured) == declared, name
        for parameter, value in configured.items():
            # Every value comes from the environment's own stacks, or from local code.
            assert re.match(
                rf"^!(stack_output {environment}/\w+\.yaml::{parameter}"
                r"|function_code_key \w+)$",
                value,
            ), (name, parameter, value)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_launch_order_puts_each_stack_after_what_it_reads(environment):
    position = {stack.name.split("/")[1]: depth(stack) for stack in plan(environment).graph}
    assert position["artifacts"] == position["keys"] == position["apis"] == position["bodies"] == 0
    assert position["functions"] > max(
        position[stack] for stack in ("artifacts", "bodies", "tables", "apis")
    )
    assert position["routes"] > position["functions"]
    assert position["monitoring"] > position["functions"]
    if environment == "prod":
        assert position["tables"] > position["keys"]
        assert position["domain"] > position["routes"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_named_thing_is_named_for_project_and_environment(templates, environment):
    name_properties = (
        "TableName",
        "FunctionName",
        "RoleName",
        "Name",
        "TopicName",
        "AlarmName",
    )
    for stack, template in templates.items():
        if not stack.startswith(f"{environment}/"):
            continue
        for logical_id, resource in template["Resources"].items():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::Route53::RecordSet":
                continue  # its Name is the DNS name it answers for (*.<domain_name>.)
            for key in name_properties:
                value = properties.get(key)
                if isinstance(value, str):
                    assert value.startswith("http-tunnel-"), (stack, logical_id, value)
                    assert value.endswith(f"-{environment}"), (stack, logical_id, value)
            # A metric filter names its log group by Ref: only a group's own name is checked.
            if isinstance(properties.get("LogGroupName"), str):
                group = properties["LogGroupName"]
                assert group.split("/")[-1].startswith("http-tunnel-"), (stack, group)
                assert group.endswith(f"-{environment}"), (stack, group)


def test_every_taggable_resource_carries_the_three_tags(templates):
    untaggable = {
        "AWS::ApiGateway::Account",
        "AWS::ApiGatewayV2::ApiMapping",
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::ApiGatewayV2::Deployment",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::IntegrationResponse",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::Resource",
        "AWS::WAFv2::WebACLAssociation",
        "AWS::ApiGatewayV2::Route",
        "AWS::KMS::Alias",
        "AWS::Lambda::Permission",
        "AWS::Logs::MetricFilter",
        "AWS::Route53::RecordSet",
        "AWS::S3::BucketPolicy",
    }
    for stack, template in templates.items():
        environment = stack.split("/")[0]
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in untaggable:
                continue
            tags = resource["Properties"].get("Tags")
            assert tags is not None, (stack, logical_id, resource["Type"])
            if isinstance(tags, list):
                tags = {tag["Key"]: tag["Value"] for tag in tags}
            # A function also carries the handler contract it implements.
            extra = (
                {PROTOCOL_TAG: PROTOCOL_VERSION}
                if resource["Type"] == "AWS::Lambda::Function"
                else {}
            )
            assert tags == {
                "Environment": environment,
                "Project": "http-tunnel",
                "ManagedBy": "sceptre",
                **extra,
            }, (stack, logical_id)


def test_the_apis_exist_once_per_environment(templates):
    for environment in ENVIRONMENTS:
        apis = [
            (stack, logical_id)
            for stack, template in templates.items()
            if stack.startswith(f"{environment}/")
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] == "AWS::ApiGatewayV2::Api"
        ]
        assert sorted(apis) == [
            (f"{environment}/apis", "AnswersApi"),
            (f"{environment}/apis", "HttpApi"),
            (f"{environment}/apis", "WebSocketApi"),
        ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_routes_wait_for_the_account_cloudwatch_role(environment):
    # A WebSocket stage with access logs fails until the account's CloudWatch role is set.
    config = read_config(f"{environment}/routes.yaml")
    assert config["dependencies"] == ["account/api-gateway-logging.yaml"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_environment_has_a_domain_stack_launched_only_with_a_domain(environment):
    # Turning a custom domain on is one setting in config.yaml: the stack is already there.
    settings = parse_settings(read_config(f"{environment}/config.yaml")["sceptre_user_data"])
    (domain,) = [stack for stack in plan(environment).graph if stack.name.endswith("/domain")]
    assert domain.obsolete is not settings.custom_domain.enabled
    assert ("domain" in stack_names(environment)) is settings.custom_domain.enabled


DOMAIN_SETTINGS = {
    "one line": "  custom_domain: {domain_name: tunnel.test, hosted_zone_id: Z0123456789}\n",
    "switched off": "  custom_domain: {domain_name: tunnel.test, enabled: false}\n",
}


@pytest.mark.parametrize("case", sorted(DOMAIN_SETTINGS))
def test_the_domain_setting_alone_decides_whether_the_domain_stack_is_launched(tmp_path, case):
    for folder in ("config", "templates"):
        shutil.copytree(PROJECT / folder, tmp_path / folder)
    config = tmp_path / "config/dev/config.yaml"
    config.write_text(
        config.read_text().replace(
            "sceptre_user_data:\n", "sceptre_user_data:\n" + DOMAIN_SETTINGS[case]
        )
    )
    launched = stack_names("dev", tmp_path)
    assert ("domain" in launched) is (case == "one line")
    if case == "one line":
        # The stacks that read the domain follow it: the functions name the new URLs (by the
        # apis stack's output), the HTTP API's own endpoint closes, the domain maps it.
        rendered = render_environment("dev", tmp_path)
        assert {name for name in rendered if name.startswith("dev/")} == {
            f"dev/{name}" for name in launched
        }
        apis = load_yaml(rendered["dev/apis"])
        assert apis["Outputs"]["PublicUrlFormat"]["Value"] == "https://{subdomain}.tunnel.test"
        http_api = apis["Resources"]["HttpApi"]["Properties"]
        assert http_api["DisableExecuteApiEndpoint"] is True
        domain = load_yaml(rendered["dev/domain"])
        assert {r["Type"] for r in domain["Resources"].values()} == {
            "AWS::CertificateManager::Certificate",
            "AWS::ApiGatewayV2::DomainName",
            "AWS::ApiGatewayV2::ApiMapping",
            "AWS::Route53::RecordSet",
        }
