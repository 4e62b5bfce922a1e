"""The offline planner on template pairs: the reviewed dev templates, changed one way each."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from review import gate, markdown, terminal
from review.planner import offline_plan
from review.replacement import predict_resource
from review.stack_review import CHANGES, Review, StackReview
from review.template_diff import diff_templates
from review.template_text import parse_template
from tests.existing_functions import FORWARDING_ARN, set_existing_functions
from tests.project_copy import copy_project
from tunnel_infra.render import render_environment

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"
TABLES = parse_template((SNAPSHOTS / "dev/tables.yaml").read_text())
FUNCTIONS = parse_template((SNAPSHOTS / "dev/functions.yaml").read_text())
CONNECTIONS_TABLE = (
    "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/connections-dev"
)
FUNCTION_PARAMETERS = {
    "ArtifactsBucketName": "artifacts-dev",
    "ConnectionsTableName": "connections-dev",
    "SigningKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:key-AbCdEf",
    "WebSocketApiId": "abc123",
    "AnswersApiId": "def456",
    "ReplyKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:reply-AbCdEf",
    "AuthorizerCodeKey": "functions/authorizer/1.zip",
    "ConnectCodeKey": "functions/connect/1.zip",
    "DisconnectCodeKey": "functions/disconnect/1.zip",
    "ForwardingCodeKey": "functions/forwarding/1.zip",
    "ResponseCodeKey": "functions/response/1.zip",
}


def plan_pair(old, new, old_parameters=None, new_parameters=None, name="dev/tables", **approve):
    stack = StackReview(name, "http-tunnel-" + name.replace("/", "-"), 0, state=CHANGES)
    offline_plan(stack, old, old_parameters or {}, new, new_parameters or {})
    review = Review("dev", datetime(2030, 1, 1, tzinfo=UTC), [stack])
    findings = gate.evaluate(review, gate.Approvals(**approve))
    return stack, review, findings


def resource(stack, logical_id):
    (found,) = [r for r in stack.resources if r.logical_id == logical_id]
    return found


def role_statements(template, role):
    return template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def connections_statement(template, role):
    """The role's statement on the connections table."""
    (statement,) = [
        s
        for s in role_statements(template, role)
        if "${ConnectionsTableName}" in str(s["Resource"])
    ]
    return statement


def test_changing_a_table_key_schema_predicts_replacement_and_blocks():
    new = copy.deepcopy(TABLES)
    table = new["Resources"]["ConnectionsTable"]["Properties"]
    table["KeySchema"] = [{"AttributeName": "requestKey", "KeyType": "HASH"}]
    table["AttributeDefinitions"] = [{"AttributeName": "requestKey", "AttributeType": "S"}]
    stack, review, findings = plan_pair(TABLES, new)
    verdict = resource(stack, "ConnectionsTable")
    assert verdict.action == "Modify"
    assert verdict.predicted == "True"
    assert verdict.stateful
    assert "Properties.KeySchema[0].AttributeName (template)" in verdict.paths
    assert any("KeySchema: Update requires: Replacement" in r for r in verdict.predicted_reasons)
    assert [(f.kind, f.subject, f.approved) for f in findings] == [
        ("replacement", "ConnectionsTable", False)
    ]
    assert findings[0].approve_with == "--allow-replace ConnectionsTable"
    assert gate.exit_code(review, findings) == gate.BLOCKED
    for approval in ("ConnectionsTable", "tables/ConnectionsTable"):
        _, review, findings = plan_pair(TABLES, new, replace=frozenset({approval}))
        assert gate.exit_code(review, findings) == gate.OK


def test_adding_a_global_secondary_index_is_an_allowed_modify():
    new = copy.deepcopy(TABLES)
    table = new["Resources"]["ConnectionsTable"]["Properties"]
    table["AttributeDefinitions"].append({"AttributeName": "agent", "AttributeType": "S"})
    table["GlobalSecondaryIndexes"] = [
        {
            "IndexName": "agent-index",
            "KeySchema": [{"AttributeName": "agent", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]
    stack, review, findings = plan_pair(TABLES, new)
    verdict = resource(stack, "ConnectionsTable")
    assert verdict.action == "Modify"
    assert verdict.predicted == "False"
    assert verdict.paths == (
        "Properties.AttributeDefinitions (template)",
        "Properties.GlobalSecondaryIndexes (template)",
    )
    assert findings == []
    assert gate.exit_code(review, findings) == gate.OK


def test_editing_an_existing_attribute_definition_predicts_replacement():
    new = copy.deepcopy(TABLES)
    new["Resources"]["ConnectionsTable"]["Properties"]["AttributeDefinitions"][0][
        "AttributeType"
    ] = "N"
    stack, _, findings = plan_pair(TABLES, new)
    assert resource(stack, "ConnectionsTable").predicted == "True"
    assert [f.kind for f in findings] == ["replacement"]


def test_adding_an_iam_action_is_broadening_and_blocks_until_approved():
    new = copy.deepcopy(FUNCTIONS)
    connections_statement(new, "ForwardingRole")["Action"].append("dynamodb:Scan")
    stack, review, findings = plan_pair(
        FUNCTIONS, new, FUNCTION_PARAMETERS, FUNCTION_PARAMETERS, name="dev/functions"
    )
    diff = stack.iam["ForwardingRole"]
    assert diff.added == (("dynamodb:Scan", CONNECTIONS_TABLE),)
    assert diff.removed == ()
    assert diff.broadening
    assert list(stack.iam) == ["ForwardingRole"]
    assert [(f.kind, f.subject, f.approved) for f in findings] == [
        ("broadening", "ForwardingRole", False)
    ]
    assert gate.exit_code(review, findings) == gate.BLOCKED
    _, review, findings = plan_pair(
        FUNCTIONS,
        new,
        FUNCTION_PARAMETERS,
        FUNCTION_PARAMETERS,
        name="dev/functions",
        broadening=True,
    )
    assert gate.exit_code(review, findings) == gate.OK


def test_narrowing_an_iam_action_is_allowed_and_shown_as_narrowing():
    new = copy.deepcopy(FUNCTIONS)
    connections_statement(new, "ForwardingRole")["Action"].remove("dynamodb:DeleteItem")
    stack, review, findings = plan_pair(
        FUNCTIONS, new, FUNCTION_PARAMETERS, FUNCTION_PARAMETERS, name="dev/functions"
    )
    diff = stack.iam["ForwardingRole"]
    assert diff.removed == (("dynamodb:DeleteItem", CONNECTIONS_TABLE),)
    assert diff.added == ()
    assert not diff.broadening
    assert findings == []
    assert gate.exit_code(review, findings) == gate.OK
    text = terminal.render(review, findings, [], colour=False)
    assert "IAM ForwardingRole: narrowing" in text
    assert f"- dynamodb:DeleteItem  {CONNECTIONS_TABLE}" in text
    assert "`ForwardingRole` (narrowing) | ➖ | `dynamodb:DeleteItem`" in markdown.render(
        review, findings
    )


def test_a_new_function_code_key_is_an_allowed_modify_of_that_function():
    new_parameters = {**FUNCTION_PARAMETERS, "ResponseCodeKey": "functions/response/2.zip"}
    stack, review, findings = plan_pair(
        FUNCTIONS, FUNCTIONS, FUNCTION_PARAMETERS, new_parameters, name="dev/functions"
    )
    assert [(r.logical_id, r.action) for r in stack.resources] == [("ResponseFunction", "Modify")]
    verdict = stack.resources[0]
    assert verdict.paths == ("Properties.Code.S3Key (parameter ResponseCodeKey)",)
    assert verdict.predicted == "False"
    assert stack.parameter_changes == {
        "ResponseCodeKey": ("functions/response/1.zip", "functions/response/2.zip")
    }
    assert stack.iam == {}
    assert findings == []
    assert gate.exit_code(review, findings) == gate.OK


def test_a_new_stack_is_all_adds_and_its_roles_broaden():
    stack, _, findings = plan_pair(None, FUNCTIONS, {}, FUNCTION_PARAMETERS, name="dev/functions")
    assert {r.action for r in stack.resources} == {"Add"}
    assert len(stack.resources) == len(FUNCTIONS["Resources"])
    assert {f.subject for f in findings if f.kind == "broadening"} == {
        "AuthorizerRole",
        "ConnectRole",
        "DisconnectRole",
        "ForwardingRole",
        "ResponseRole",
    }


def test_removing_a_log_group_blocks_and_a_replaced_function_does_not():
    new = copy.deepcopy(FUNCTIONS)
    del new["Resources"]["ResponseLogGroup"]
    new["Resources"]["ResponseFunction"]["Properties"]["FunctionName"] = "renamed"
    stack, _, findings = plan_pair(
        FUNCTIONS, new, FUNCTION_PARAMETERS, FUNCTION_PARAMETERS, name="dev/functions"
    )
    assert resource(stack, "ResponseLogGroup").action == "Remove"
    function = resource(stack, "ResponseFunction")
    assert function.predicted == "True"  # FunctionName is create-only in the registry schema
    assert any("FunctionName is create-only" in r for r in function.predicted_reasons)
    assert [(f.kind, f.subject) for f in findings] == [("removal", "ResponseLogGroup")]


@pytest.mark.parametrize(
    ("resource_type", "properties", "changed", "expected"),
    [
        ("AWS::DynamoDB::Table", {"TableName": "a"}, {"TableName": "b"}, "True"),
        ("AWS::KMS::Key", {"KeySpec": "SYMMETRIC_DEFAULT"}, {"KeySpec": "RSA_2048"}, "True"),
        ("AWS::KMS::Key", {"EnableKeyRotation": False}, {"EnableKeyRotation": True}, "False"),
        ("AWS::S3::Bucket", {"BucketName": "a"}, {"BucketName": "b"}, "True"),
        ("AWS::S3::Bucket", {"ObjectLockEnabled": False}, {"ObjectLockEnabled": True}, "True"),
        (
            "AWS::Logs::LogGroup",
            {"LogGroupClass": "STANDARD"},
            {"LogGroupClass": "DELIVERY"},
            "True",
        ),
        ("AWS::Logs::LogGroup", {"RetentionInDays": 7}, {"RetentionInDays": 30}, "False"),
        ("AWS::SecretsManager::Secret", {"Name": "a"}, {"Name": "b"}, "True"),
        ("AWS::SecretsManager::Secret", {"Description": "a"}, {"Description": "b"}, "False"),
    ],
)
def test_replacement_prediction_per_stateful_type(resource_type, properties, changed, expected):
    old = {"Resources": {"R": {"Type": resource_type, "Properties": properties}}}
    new = {"Resources": {"R": {"Type": resource_type, "Properties": changed}}}
    (diff,) = diff_templates(old, new).resources
    assert predict_resource(diff).replacement == expected


def test_a_function_switched_to_an_existing_one_says_it_is_external_and_blocks_on_its_logs(
    tmp_path,
):
    project = copy_project(tmp_path)
    set_existing_functions(project, "dev", {"forwarding": FORWARDING_ARN})
    existing = parse_template(render_environment("dev", project)["dev/functions"])
    stack, review, findings = plan_pair(
        FUNCTIONS, existing, FUNCTION_PARAMETERS, FUNCTION_PARAMETERS, name="dev/functions"
    )
    assert stack.notes == [
        f"ForwardingFunction is now external: ForwardingFunctionArn names {FORWARDING_ARN}, a "
        "function this stack neither creates nor deploys (existing_functions); removed with it: "
        "ForwardingFunction, ForwardingLogGroup, ForwardingRole. Its code, role and logs are "
        "its owner's and outside this review and the least-privilege tests; its role needs the "
        "grants in the stack's ForwardingNeedsPolicy output"
    ]
    assert {r.logical_id: r.action for r in stack.resources if r.action == "Remove"} == {
        "ForwardingFunction": "Remove",
        "ForwardingLogGroup": "Remove",
        "ForwardingRole": "Remove",
    }
    # Its logs go with it: the gate stops until that is approved by name.
    assert [(f.kind, f.subject) for f in gate.blocking(findings)] == [
        ("removal", "ForwardingLogGroup")
    ]
    shown = terminal.render(review, findings, [], colour=False)
    assert (
        f"note: ForwardingFunction is now external: ForwardingFunctionArn names {FORWARDING_ARN}"
        in shown
    )
    assert "> ForwardingFunction is now external" in markdown.render(review, findings)

    # And back: ours again, created from functions/.
    back, _, _ = plan_pair(
        existing, FUNCTIONS, FUNCTION_PARAMETERS, FUNCTION_PARAMETERS, name="dev/functions"
    )
    assert back.notes == [
        f"ForwardingFunction is ours again: created from functions/ in place of the existing "
        f"function {FORWARDING_ARN}, which this stack leaves as it is"
    ]


def test_our_own_functions_changing_say_nothing_of_external_functions():
    new = copy.deepcopy(FUNCTIONS)
    new["Resources"]["ForwardingFunction"]["Properties"]["MemorySize"] = 512
    stack, _, _ = plan_pair(
        FUNCTIONS, new, FUNCTION_PARAMETERS, FUNCTION_PARAMETERS, name="dev/functions"
    )
    assert stack.notes == []
