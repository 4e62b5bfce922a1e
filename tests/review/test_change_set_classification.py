"""Change-set handling on fixtures shaped like ``aws cloudformation describe-change-set`` output.

The shapes follow the AWS CLI reference example (``Changes`` of ``Type: Resource`` with a
``ResourceChange``: Action, LogicalResourceId, PhysicalResourceId, ResourceType, Replacement,
Scope, Details of Target/Evaluation/ChangeSource/CausingEntity), paged with NextToken.
"""

from __future__ import annotations

import copy

import pytest
from botocore.exceptions import ClientError

from review import change_sets
from review.merge import merge
from review.replacement import predict_resource
from review.template_diff import diff_templates

ARN = (
    "arn:aws:cloudformation:us-west-2:123456789012:changeSet/review-0123456789ab/"
    "bc9555ba-a949-xmpl-bfb8-f41d04ec5784"
)
STACK_ID = (
    "arn:aws:cloudformation:us-west-2:123456789012:stack/http-tunnel-prod-tables/"
    "5b4f1a70-e4cb-11e9-xmpl-0a0c7a4e41d8"
)


def detail(name, recreation, source, entity=None, evaluation="Static"):
    found = {
        "Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation},
        "Evaluation": evaluation,
        "ChangeSource": source,
    }
    if entity:
        found["CausingEntity"] = entity
    return found


PAGE_1 = {
    "Changes": [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "ConnectionsTable",
                "PhysicalResourceId": "http-tunnel-connections-prod",
                "ResourceType": "AWS::DynamoDB::Table",
                "Replacement": "True",
                "Scope": ["Properties"],
                "Details": [detail("KeySchema", "Always", "DirectModification")],
            },
        },
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "ResponseFunction",
                "PhysicalResourceId": "http-tunnel-response-prod",
                "ResourceType": "AWS::Lambda::Function",
                "Replacement": "False",
                "Scope": ["Properties"],
                "Details": [
                    detail("Code", "Never", "ParameterReference", "ResponseCodeKey"),
                    detail("Timeout", "Never", "DirectModification"),
                ],
            },
        },
    ],
    "ChangeSetName": "review-0123456789ab",
    "ChangeSetId": ARN,
    "StackId": STACK_ID,
    "StackName": "http-tunnel-prod-tables",
    "Parameters": [{"ParameterKey": "ResponseCodeKey", "ParameterValue": "functions/r/2.zip"}],
    "CreationTime": "2019-10-02T05:20:56.651Z",
    "ExecutionStatus": "AVAILABLE",
    "Status": "CREATE_COMPLETE",
    "NotificationARNs": [],
    "RollbackConfiguration": {},
    "Capabilities": ["CAPABILITY_IAM"],
    "NextToken": "page-2",
}
PAGE_2 = {
    **{k: v for k, v in PAGE_1.items() if k not in ("Changes", "NextToken")},
    "Changes": [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "ConnectionsPolicy",
                "PhysicalResourceId": "prod-Conne-1XMPL",
                "ResourceType": "AWS::IAM::Policy",
                "Replacement": "Conditional",
                "Scope": ["Properties"],
                "Details": [
                    detail(
                        "PolicyDocument",
                        "Conditionally",
                        "ResourceAttribute",
                        "ConnectionsTable.Arn",
                        evaluation="Dynamic",
                    )
                ],
            },
        },
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Add",
                "LogicalResourceId": "AuditTable",
                "ResourceType": "AWS::DynamoDB::Table",
                "Scope": [],
                "Details": [],
            },
        },
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Remove",
                "LogicalResourceId": "OldLogGroup",
                "PhysicalResourceId": "/aws/lambda/old-prod",
                "ResourceType": "AWS::Logs::LogGroup",
                "PolicyAction": "Delete",
                "Scope": [],
                "Details": [],
            },
        },
    ],
}


class FakeCloudFormation:
    """A ``Call`` that answers from fixtures and records what was asked."""

    def __init__(self, responses):
        self.responses = responses  # (command, frozen kwargs) -> response or exception
        self.calls = []

    def __call__(self, command, kwargs):
        self.calls.append((command, kwargs))
        frozen = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
        answer = self.responses[(command, tuple(sorted(frozen.items())))]
        if isinstance(answer, Exception):
            raise answer
        return copy.deepcopy(answer)


def paged():
    return FakeCloudFormation(
        {
            ("describe_change_set", (("ChangeSetName", ARN),)): PAGE_1,
            ("describe_change_set", (("ChangeSetName", ARN), ("NextToken", "page-2"))): PAGE_2,
        }
    )


def test_describe_all_follows_next_token_and_joins_the_pages():
    call = paged()
    description = change_sets.describe_all(call, ARN)
    assert [c["ResourceChange"]["LogicalResourceId"] for c in description["Changes"]] == [
        "ConnectionsTable",
        "ResponseFunction",
        "ConnectionsPolicy",
        "AuditTable",
        "OldLogGroup",
    ]
    assert "NextToken" not in description
    assert call.calls[1] == ("describe_change_set", {"ChangeSetName": ARN, "NextToken": "page-2"})


def test_classify_reads_actions_replacements_scope_and_causing_entities():
    outcome = change_sets.classify(change_sets.describe_all(paged(), ARN))
    assert outcome.kind == change_sets.CHANGES
    assert outcome.change_set_id == ARN
    by_id = {change.logical_id: change for change in outcome.changes}
    assert {k: (v.action, v.replacement) for k, v in by_id.items()} == {
        "ConnectionsTable": ("Modify", "True"),
        "ResponseFunction": ("Modify", "False"),
        "ConnectionsPolicy": ("Modify", "Conditional"),
        "AuditTable": ("Add", ""),
        "OldLogGroup": ("Remove", ""),
    }
    assert by_id["OldLogGroup"].physical_id == "/aws/lambda/old-prod"
    assert by_id["ConnectionsTable"].scope == ("Properties",)
    code, timeout = by_id["ResponseFunction"].details
    assert (code.name, code.change_source, code.causing_entity) == (
        "Code",
        "ParameterReference",
        "ResponseCodeKey",
    )
    assert code.text == "Code (ParameterReference by ResponseCodeKey, recreation Never)"
    assert timeout.causing_entity == ""
    (dynamic,) = by_id["ConnectionsPolicy"].details
    assert (dynamic.evaluation, dynamic.causing_entity, dynamic.requires_recreation) == (
        "Dynamic",
        "ConnectionsTable.Arn",
        "Conditionally",
    )


@pytest.mark.parametrize(
    ("status", "execution", "reason", "kind"),
    [
        (
            "FAILED",
            "UNAVAILABLE",
            "The submitted information didn't contain changes. Submit different information to "
            "create a change set.",
            change_sets.NO_CHANGES,
        ),
        ("FAILED", "UNAVAILABLE", "No updates are to be performed.", change_sets.NO_CHANGES),
        (
            "FAILED",
            "UNAVAILABLE",
            "Parameters: [WebSocketApiId] must have values",
            change_sets.FAILED,
        ),
        ("CREATE_COMPLETE", "OBSOLETE", None, change_sets.FAILED),
        ("CREATE_COMPLETE", "AVAILABLE", None, change_sets.CHANGES),
    ],
)
def test_classify_statuses(status, execution, reason, kind):
    description = {
        "ChangeSetId": ARN,
        "Status": status,
        "ExecutionStatus": execution,
        "Changes": [],
    }
    if reason:
        description["StatusReason"] = reason
    outcome = change_sets.classify(description)
    assert outcome.kind == kind
    if kind == change_sets.FAILED:
        assert outcome.reason  # shown to the user as the stack's error


def test_wait_polls_until_the_set_is_created():
    in_progress = {**PAGE_2, "Status": "CREATE_IN_PROGRESS", "Changes": []}
    in_progress.pop("NextToken", None)
    answers = [in_progress, {**PAGE_2, "Changes": []}]
    sleeps = []

    def call(command, kwargs):
        return answers.pop(0)

    done = change_sets.wait([(call, ARN)], poll_seconds=3, sleep=sleeps.append)
    assert done[ARN]["Status"] == "CREATE_COMPLETE"
    assert sleeps == [3]


def table(key):
    return {
        "Resources": {
            "ConnectionsTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "http-tunnel-connections-prod",
                    "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                },
            }
        }
    }


def test_merge_keeps_both_verdicts_and_the_worse_one_counts():
    # Offline: a Tags-only edit predicts no replacement; CloudFormation says True.
    old, new = table("connectionId"), table("connectionId")
    new["Resources"]["ConnectionsTable"]["Properties"]["Tags"] = [{"Key": "a", "Value": "b"}]
    diff = diff_templates(old, new)
    outcome = change_sets.classify(change_sets.describe_all(paged(), ARN))
    verdicts = {
        v.logical_id: v for v in merge([(r, predict_resource(r)) for r in diff.resources], outcome)
    }
    table_verdict = verdicts["ConnectionsTable"]
    assert (table_verdict.predicted, table_verdict.cloudformation) == ("False", "True")
    assert table_verdict.replacement == "True"
    assert table_verdict.disagreement == (
        "Replacement: CloudFormation says True, offline prediction says False"
    )
    assert verdicts["ConnectionsTable"].physical_id == "http-tunnel-connections-prod"
    policy = verdicts["ConnectionsPolicy"]
    assert not policy.offline_listed
    assert policy.replacement == "Conditional"
    assert "only CloudFormation reports" in policy.disagreement


def test_merge_without_a_change_set_uses_the_prediction():
    diff = diff_templates(table("connectionId"), table("agentId"))
    (verdict,) = merge([(r, predict_resource(r)) for r in diff.resources], None)
    assert (verdict.predicted, verdict.cloudformation, verdict.replacement) == ("True", "", "True")
    assert verdict.disagreement == ""


def listing(*summaries):
    return {"Summaries": list(summaries)}


def summary(name, execution, status="CREATE_COMPLETE", stack="http-tunnel-prod-tables"):
    return {
        "StackName": stack,
        "ChangeSetId": f"arn:{name}",
        "ChangeSetName": name,
        "ExecutionStatus": execution,
        "Status": status,
    }


CREATE_KWARGS = (
    ("Capabilities", tuple(change_sets.CAPABILITIES)),
    ("ChangeSetName", "review-0123456789ab"),
    ("ChangeSetType", "UPDATE"),
    ("StackName", "http-tunnel-prod-tables"),
    ("TemplateBody", "{}"),
)


def create(call, change_set_type="UPDATE"):
    return change_sets.create(
        call,
        stack_name="http-tunnel-prod-tables",
        name="review-0123456789ab",
        change_set_type=change_set_type,
        request={"TemplateBody": "{}"},
    )


def test_create_reuses_an_executable_set_of_the_same_name():
    call = FakeCloudFormation(
        {
            ("list_change_sets", (("StackName", "http-tunnel-prod-tables"),)): listing(
                summary("review-0123456789ab", "AVAILABLE")
            )
        }
    )
    assert create(call) == "arn:review-0123456789ab"
    assert [command for command, _ in call.calls] == ["list_change_sets"]


def test_create_replaces_a_failed_set_and_stale_review_sets_but_not_others():
    call = FakeCloudFormation(
        {
            ("list_change_sets", (("StackName", "http-tunnel-prod-tables"),)): listing(
                summary("review-0123456789ab", "UNAVAILABLE", status="FAILED"),
                summary("review-ffffffffffff", "AVAILABLE"),
                summary("hand-made", "AVAILABLE"),
            ),
            ("delete_change_set", (("ChangeSetName", "arn:review-0123456789ab"),)): {},
            ("delete_change_set", (("ChangeSetName", "arn:review-ffffffffffff"),)): {},
            ("create_change_set", CREATE_KWARGS): {"Id": "arn:new", "StackId": STACK_ID},
        }
    )
    assert create(call) == "arn:new"
    assert [(c, k.get("ChangeSetName")) for c, k in call.calls] == [
        ("list_change_sets", None),
        ("delete_change_set", "arn:review-0123456789ab"),
        ("delete_change_set", "arn:review-ffffffffffff"),
        ("create_change_set", "review-0123456789ab"),
    ]


def test_create_for_a_stack_that_does_not_exist_yet():
    missing = ClientError(
        {"Error": {"Code": "ValidationError", "Message": "Stack [x] does not exist"}},
        "ListChangeSets",
    )
    kwargs = tuple((k, "CREATE") if k == "ChangeSetType" else (k, v) for k, v in CREATE_KWARGS)
    call = FakeCloudFormation(
        {
            ("list_change_sets", (("StackName", "http-tunnel-prod-tables"),)): missing,
            ("create_change_set", kwargs): {"Id": "arn:created", "StackId": STACK_ID},
        }
    )
    assert create(call, "CREATE") == "arn:created"


def test_change_set_names_follow_the_inputs():
    name = change_sets.change_set_name("s", "template", {"A": "1"}, {"Env": "prod"})
    assert name.startswith("review-") and len(name) == len("review-") + 12
    assert name == change_sets.change_set_name("s", "template", {"A": "1"}, {"Env": "prod"})
    assert name != change_sets.change_set_name("s", "template", {"A": "2"}, {"Env": "prod"})
    assert name != change_sets.change_set_name("t", "template", {"A": "1"}, {"Env": "prod"})
