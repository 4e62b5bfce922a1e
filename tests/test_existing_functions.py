"""An existing function in place of ours (``existing_functions``): rendered both ways, and each
mistake in the setting one line where it is set.

Our configs create every function, each tagged with the handler contract; with
``existing_functions.forwarding`` the functions stack creates no forwarding function, role or log
group, and its outputs name the existing one, so the routes and monitoring stacks, which read
them, render exactly as before.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tunnel_shared.protocol import PROTOCOL_TAG, PROTOCOL_VERSION

from review.template_text import parse_template
from tests.existing_functions import FORWARDING_ARN, FORWARDING_NAME, set_existing_functions
from tests.project_copy import copy_project
from tunnel_infra.deployer_policy import policy
from tunnel_infra.functions import FUNCTIONS
from tunnel_infra.lint import linters
from tunnel_infra.render import render_environment

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
ENVIRONMENTS = ("dev", "staging", "prod")


def snapshot(name: str) -> dict:
    return parse_template((SNAPSHOTS / f"{name}.yaml").read_text())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """dev rendered with forwarding an existing function."""
    project = copy_project(tmp_path_factory.mktemp("existing"))
    set_existing_functions(project, "dev", {"forwarding": FORWARDING_ARN})
    return {name: parse_template(body) for name, body in render_environment("dev", project).items()}


def of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def sub_text(output: dict) -> str:
    return output["Value"]["Fn::Sub"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_our_configs_create_every_function_tagged_with_the_handler_contract(environment):
    functions = of_type(snapshot(f"{environment}/functions"), "AWS::Lambda::Function")
    assert sorted(functions) == sorted(f"{f.title}Function" for f in FUNCTIONS)
    for function in functions.values():
        tags = {t["Key"]: t["Value"] for t in function["Properties"]["Tags"]}
        assert tags[PROTOCOL_TAG] == PROTOCOL_VERSION


def test_an_existing_forwarding_has_no_function_role_or_log_group_of_ours(rendered):
    template = rendered["dev/functions"]
    ours = snapshot("dev/functions")
    assert sorted(template["Resources"]) == sorted(
        logical_id
        for logical_id in ours["Resources"]
        if logical_id not in ("ForwardingFunction", "ForwardingRole", "ForwardingLogGroup")
    )
    # Nothing else is named after our forwarding function (its role, its log group).
    assert "http-tunnel-forwarding-dev" not in json.dumps(template["Resources"])
    assert "http-tunnel-forwarding-dev" in json.dumps(ours["Resources"])


def test_its_outputs_name_the_existing_function(rendered):
    outputs = rendered["dev/functions"]["Outputs"]
    assert outputs["ForwardingFunctionArn"]["Value"] == FORWARDING_ARN
    assert outputs["ForwardingFunctionName"]["Value"] == FORWARDING_NAME
    # tunnel logs reads it: Lambda's default group for the existing function.
    assert outputs["ForwardingLogGroupName"]["Value"] == f"/aws/lambda/{FORWARDING_NAME}"
    # The others are still ours.
    assert outputs["ResponseFunctionArn"]["Value"] == {"Fn::GetAtt": ["ResponseFunction", "Arn"]}


@pytest.mark.parametrize("stack", ["dev/routes", "dev/monitoring", "dev/apis"])
def test_routes_permissions_and_alarms_follow_the_outputs_unchanged(rendered, stack):
    # They read the functions stack's outputs as parameters: the same template points the
    # integrations, the invoke permissions and the alarms at whichever function they name.
    assert rendered[stack] == snapshot(stack)
    if stack == "dev/routes":
        permissions = of_type(rendered[stack], "AWS::Lambda::Permission")
        assert permissions["ForwardingPermission"]["Properties"]["FunctionName"] == {
            "Ref": "ForwardingFunctionArn"
        }


def test_the_environment_it_needs_is_the_one_ours_has(rendered):
    ours = snapshot("dev/functions")["Resources"]["ForwardingFunction"]["Properties"]
    variables = ours["Environment"]["Variables"]
    wanted = {
        name: f"${{{value['Ref']}}}"
        if isinstance(value, dict) and "Ref" in value
        else value["Fn::Sub"]
        if isinstance(value, dict)
        else value
        for name, value in variables.items()
    }
    needs = json.loads(sub_text(rendered["dev/functions"]["Outputs"]["ForwardingNeedsEnvironment"]))
    assert needs == {"Variables": wanted}


def test_the_policy_it_needs_is_our_roles_but_for_our_log_group(rendered):
    role = snapshot("dev/functions")["Resources"]["ForwardingRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]

    def as_text(resource):
        return (
            resource["Fn::Sub"]
            if isinstance(resource, dict) and "Fn::Sub" in resource
            else (f"${{{resource['Ref']}}}" if isinstance(resource, dict) else resource)
        )

    wanted = [
        {**s, "Resource": [as_text(r) for r in s["Resource"]]}
        for s in statements
        if "ForwardingLogGroup" not in json.dumps(s)
    ]
    needs = json.loads(sub_text(rendered["dev/functions"]["Outputs"]["ForwardingNeedsPolicy"]))
    assert needs["Statement"] == wanted
    assert len(wanted) == len(statements) - 1


def test_the_knowingly_unused_code_key_is_declared_for_cfn_lint(rendered):
    template = rendered["dev/functions"]
    assert "ForwardingCodeKey" in template["Parameters"]
    assert template["Metadata"] == {"cfn-lint": {"config": {"ignore_checks": ["W2001"]}}}
    assert "Metadata" not in snapshot("dev/functions")


# Each mistake: one line naming the file and line where it is set.


def check(project: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tunnel_infra.config_check", "dev"],
        cwd=project,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(project)},
        timeout=120,
    )
    assert result.returncode != 0
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            {"forwardng": FORWARDING_ARN},
            "existing_functions.forwardng is not a function; did you mean forwarding?",
        ),
        (
            {"forwarding": "arn:aws:sns:us-east-1:123456789012:alarms"},
            "existing_functions.forwarding must be a Lambda function ARN (arn:aws:lambda:"
            "<region>:<account>:function:<name>), got 'arn:aws:sns:us-east-1:123456789012:alarms'",
        ),
        (
            {"forwarding": f"{FORWARDING_ARN}:live"},
            f"existing_functions.forwarding names a version or alias (live); give the function's "
            f"own ARN, {FORWARDING_ARN}: its tunnel-protocol tag, which preflight checks, belongs "
            "to the function, not to a version or alias",
        ),
        (
            {"forwarding": FORWARDING_ARN.replace(FORWARDING_NAME, "http-tunnel-forwarding-dev")},
            "existing_functions.forwarding names http-tunnel-forwarding-dev, the function this "
            "environment's functions stack creates: once it is existing the stack deletes it; "
            "name a function deployed on its own",
        ),
    ],
)
def test_a_bad_entry_is_one_line_where_it_is_set(tmp_path, entry, problem):
    project = copy_project(tmp_path)
    line = set_existing_functions(project, "dev", entry)
    assert check(project) == f"config/dev/config.yaml:{line}: sceptre_user_data.{problem}"


def test_a_reservation_for_an_existing_function_is_refused(tmp_path):
    project = copy_project(tmp_path)
    set_existing_functions(project, "dev", {"forwarding": FORWARDING_ARN})
    config = project / "config" / "dev" / "config.yaml"
    config.write_text(
        config.read_text().replace(
            "  existing_functions:\n",
            "  reserved_concurrency: {forwarding: 5}\n  existing_functions:\n",
        )
    )
    assert re.fullmatch(
        r"config/dev/config\.yaml:\d+: sceptre_user_data\.reserved_concurrency\.forwarding is "
        r"set, but forwarding is an existing function \(existing_functions\.forwarding\): its "
        r"concurrency is its owner's to reserve; remove this line",
        check(project),
    )


def test_the_deployer_may_read_an_existing_functions_tags_at_launch():
    # GetFunction answers a tagged function's tags only with lambda:ListTags allowed too.
    statements = {s["Sid"]: s["Action"] for s in policy("dev", ["launch"])["Statement"]}
    assert {"lambda:GetFunction", "lambda:ListTags"} <= set(statements["Launch"])


def test_cfn_lint_passes_the_functions_stack_with_an_existing_function(tmp_path):
    project = copy_project(tmp_path / "project")
    set_existing_functions(project, "dev", {"forwarding": FORWARDING_ARN})
    template = tmp_path / "functions.yaml"
    template.write_text(render_environment("dev", project)["dev/functions"])
    (cfn_lint,) = [linter for linter in linters() if linter.name == "cfn-lint"]
    linted = subprocess.run(
        [*cfn_lint.command, str(template)], capture_output=True, text=True, timeout=300
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
