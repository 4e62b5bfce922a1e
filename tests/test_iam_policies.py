"""The tests' reading of roles (tests/iam_policies.py) sees every identity policy, not only a
role's inline ones: a separate policy would otherwise grant unseen (issue 18 S11)."""

from __future__ import annotations

import pytest

from tests.iam_policies import role_permissions

TABLE = {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/t"}


def statement(**fields: object) -> dict:
    return {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": [TABLE], **fields}


def template(**resources: dict) -> dict:
    return {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {}}, **resources}}


@pytest.mark.parametrize("policy_type", ["AWS::IAM::RolePolicy", "AWS::IAM::Policy"])
def test_a_separate_policy_counts_for_its_role(policy_type):
    target = {"RoleName": {"Ref": "Role"}}
    if policy_type == "AWS::IAM::Policy":
        target = {"Roles": [{"Ref": "Role"}]}
    found = role_permissions(
        template(
            Access={
                "Type": policy_type,
                "Properties": {"PolicyDocument": {"Statement": [statement()]}, **target},
            }
        )
    )
    assert found == {"Role": {("dynamodb:GetItem", TABLE["Fn::Sub"])}}


def test_a_user_policy_is_listed_under_its_user():
    found = role_permissions(
        template(
            User={
                "Type": "AWS::IAM::User",
                "Properties": {
                    "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": statement()}}]
                },
            }
        )
    )
    assert found == {"Role": set(), "User": {("dynamodb:GetItem", TABLE["Fn::Sub"])}}


def test_an_inverted_allow_is_refused():
    inverted = statement(NotResource=[TABLE])
    del inverted["Resource"]
    role = {"Type": "AWS::IAM::Role", "Properties": {}}
    role["Properties"]["Policies"] = [
        {"PolicyName": "p", "PolicyDocument": {"Statement": [inverted]}}
    ]
    with pytest.raises(AssertionError):
        role_permissions({"Resources": {"Role": role}})
