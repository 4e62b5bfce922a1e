"""The emulator's change sets say what they would do (moto's say nothing), per stack."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

NO_CHANGES = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)


def template(key="id", retention="Retention", topic=True, queue=False):
    resources = {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": {"Fn::Sub": "${AWS::StackName}-table"},
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
            },
        },
        "Logs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": "/test/${AWS::StackName}"},
                "RetentionInDays": {"Ref": retention},
            },
        },
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "table",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "dynamodb:GetItem",
                                    "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
                                }
                            ],
                        },
                    }
                ],
            },
        },
    }
    if topic:
        resources["Topic"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    if queue:
        resources["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    return json.dumps(
        {
            "Parameters": {"Retention": {"Type": "Number", "Default": 7}},
            "Resources": resources,
            "Outputs": {"TableName": {"Value": {"Ref": "Table"}}},
        }
    )


def queues(count):
    return json.dumps(
        {
            "Resources": {f"Queue{i:02d}": {"Type": "AWS::SQS::Queue"} for i in range(count)},
            "Outputs": {"First": {"Value": {"Ref": "Queue00"}}},
        }
    )


@pytest.fixture
def stack(cloudformation):
    name = f"cs-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(
        StackName=name, TemplateBody=template(), Capabilities=["CAPABILITY_IAM"]
    )
    return name


def changes_of(cloudformation, name, stack_name):
    described = cloudformation.describe_change_set(ChangeSetName=name, StackName=stack_name)
    return described, {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]
    }


def test_changes_have_actions_replacement_scope_and_details(cloudformation, stack):
    cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName="review-a",
        ChangeSetType="UPDATE",
        TemplateBody=template(key="pk", topic=False, queue=True),
        Parameters=[{"ParameterKey": "Retention", "ParameterValue": "14"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    described, changes = changes_of(cloudformation, "review-a", stack)
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert {k: (v["Action"], v.get("Replacement")) for k, v in changes.items()} == {
        "Table": ("Modify", "True"),
        "Logs": ("Modify", "False"),
        "Role": ("Modify", "False"),
        "Topic": ("Remove", None),
        "Queue": ("Add", None),
    }
    table = changes["Table"]
    assert table["PhysicalResourceId"] == f"{stack}-table"
    assert table["Scope"] == ["Properties"]
    targets = {d["Target"]["Name"]: d for d in table["Details"]}
    assert targets["KeySchema"]["Target"]["RequiresRecreation"] == "Always"
    assert targets["KeySchema"]["ChangeSource"] == "DirectModification"
    assert targets["KeySchema"]["Evaluation"] == "Static"
    (logs,) = changes["Logs"]["Details"]
    assert logs["ChangeSource"] == "ParameterReference"
    assert logs["CausingEntity"] == "Retention"
    assert logs["Target"] == {
        "Attribute": "Properties",
        "Name": "RetentionInDays",
        "RequiresRecreation": "Never",
        "Path": "/Properties/RetentionInDays",
    }
    (role,) = changes["Role"]["Details"]  # the table it names is replaced
    assert (role["Evaluation"], role["ChangeSource"], role["CausingEntity"]) == (
        "Dynamic",
        "ResourceAttribute",
        "Table.Arn",
    )
    assert changes["Topic"]["PhysicalResourceId"].startswith("arn:aws:sns:")


def test_an_unchanged_change_set_fails_with_the_no_changes_reason(cloudformation, stack):
    cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName="review-same",
        ChangeSetType="UPDATE",
        TemplateBody=template(),
        Parameters=[{"ParameterKey": "Retention", "ParameterValue": "7"}],  # the default
        Capabilities=["CAPABILITY_IAM"],
    )
    described, changes = changes_of(cloudformation, "review-same", stack)
    assert described["Status"] == "FAILED"
    assert described["StatusReason"] == NO_CHANGES
    assert described["ExecutionStatus"] == "UNAVAILABLE"
    assert changes == {}


def test_change_sets_belong_to_their_stack(cloudformation, stack):
    other = f"cs-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(
        StackName=other, TemplateBody=template(), Capabilities=["CAPABILITY_IAM"]
    )
    for name, body in ((stack, template(key="pk")), (other, template(topic=False))):
        cloudformation.create_change_set(
            StackName=name,
            ChangeSetName="review-shared",
            ChangeSetType="UPDATE",
            TemplateBody=body,
            Capabilities=["CAPABILITY_IAM"],
        )
    first, first_changes = changes_of(cloudformation, "review-shared", stack)
    second, second_changes = changes_of(cloudformation, "review-shared", other)
    assert (first["StackName"], sorted(first_changes)) == (stack, ["Role", "Table"])
    assert (second["StackName"], sorted(second_changes)) == (other, ["Topic"])
    listed = cloudformation.list_change_sets(StackName=other)["Summaries"]
    assert [(s["StackName"], s["ChangeSetName"]) for s in listed] == [(other, "review-shared")]
    with pytest.raises(ClientError) as again:
        cloudformation.create_change_set(
            StackName=stack,
            ChangeSetName="review-shared",
            ChangeSetType="UPDATE",
            TemplateBody=template(key="other"),
            Capabilities=["CAPABILITY_IAM"],
        )
    assert again.value.response["Error"]["Code"] == "AlreadyExistsException"
    cloudformation.delete_change_set(ChangeSetName="review-shared", StackName=other)
    assert changes_of(cloudformation, "review-shared", stack)[0]["StackName"] == stack


def test_a_create_change_set_pages_its_changes_and_executes_with_outputs(cloudformation):
    name = f"cs-{uuid.uuid4().hex[:8]}"
    created = cloudformation.create_change_set(
        StackName=name, ChangeSetName="review-new", ChangeSetType="CREATE", TemplateBody=queues(12)
    )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "REVIEW_IN_PROGRESS"
    first = cloudformation.describe_change_set(ChangeSetName=created["Id"])
    assert len(first["Changes"]) == 10
    second = cloudformation.describe_change_set(
        ChangeSetName=created["Id"], NextToken=first["NextToken"]
    )
    assert len(second["Changes"]) == 2
    assert "NextToken" not in second
    actions = {c["ResourceChange"]["Action"] for c in first["Changes"] + second["Changes"]}
    assert actions == {"Add"}
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert [o["OutputKey"] for o in stack["Outputs"]] == ["First"]


def test_executing_an_update_keeps_the_new_parameter_values(cloudformation, stack):
    created = cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName="review-retention",
        ChangeSetType="UPDATE",
        TemplateBody=template(),
        Parameters=[{"ParameterKey": "Retention", "ParameterValue": "30"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]} == {
        "Retention": "30"
    }
    cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName="review-again",
        ChangeSetType="UPDATE",
        TemplateBody=template(),
        Parameters=[{"ParameterKey": "Retention", "ParameterValue": "30"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    again, _ = changes_of(cloudformation, "review-again", stack)
    assert (again["Status"], again["StatusReason"]) == ("FAILED", NO_CHANGES)
