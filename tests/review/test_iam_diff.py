"""The review's IAM diff reads every policy-carrying resource through the shared walker
(tunnel_infra/iam_statements.py): identities' separate policies, resource and key policies,
the Not* forms, Fn::If statements and documents written as JSON text (issue 18 S11)."""

from __future__ import annotations

import copy
import json

from review.iam_diff import diff_roles, role_permissions

ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": ["sts:AssumeRole"],
                }
            ]
        }
    },
}
TABLE = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/t"
OBJECTS = "${Bucket.Arn}/*"


def template(**resources: dict) -> dict:
    return {"Resources": {"Role": copy.deepcopy(ROLE), **resources}}


def policy(resource_type: str, statement: dict, **properties: object) -> dict:
    return {
        "Type": resource_type,
        "Properties": {"PolicyDocument": {"Statement": [statement]}, **properties},
    }


def broader(old: dict, new: dict) -> dict[str, tuple]:
    return {
        holder: diff.broader
        for holder, diff in diff_roles(role_permissions(old), role_permissions(new)).items()
        if diff.broadening
    }


def test_allow_not_action_in_a_role_policy_broadens_its_role():
    new = template(
        Access=policy(
            "AWS::IAM::RolePolicy",
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            RoleName={"Ref": "Role"},
        )
    )
    assert broader(template(), new) == {"Role": (("not iam:*", "*"),)}


def test_a_user_policy_and_a_group_managed_policy_are_diffed():
    old = {"Resources": {"User": {"Type": "AWS::IAM::User"}, "Team": {"Type": "AWS::IAM::Group"}}}
    new = copy.deepcopy(old)
    new["Resources"]["Team"]["Properties"] = {"ManagedPolicyArns": ["arn:x:ReadOnlyAccess"]}
    new["Resources"]["Access"] = policy(
        "AWS::IAM::UserPolicy",
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        UserName={"Ref": "User"},
    )
    assert broader(old, new) == {
        "Team": (("managed policy", "arn:x:ReadOnlyAccess"),),
        "User": (("dynamodb:*", "*"),),
    }


def test_a_bucket_policy_opened_to_everyone_broadens_the_bucket_policy():
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": OBJECTS,
        "Condition": {"Bool": {"aws:SecureTransport": False}},
    }
    old = template(BucketPolicy=policy("AWS::S3::BucketPolicy", deny))
    new = copy.deepcopy(old)
    statements = new["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    statements.append(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": OBJECTS}
    )
    assert broader(old, new) == {"BucketPolicy": (("s3:GetObject", f"{OBJECTS} for principal *"),)}


def test_allow_not_principal_in_a_key_policy_broadens_the_key():
    root = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    old = template(
        Key={
            "Type": "AWS::KMS::Key",
            "Properties": {
                "KeyPolicy": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": root,
                            "Action": "kms:Decrypt",
                            "Resource": "*",
                        }
                    ]
                }
            },
        }
    )
    new = copy.deepcopy(old)
    (statement,) = new["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"]
    statement["NotPrincipal"] = statement.pop("Principal")
    (pair,) = broader(old, new)["Key"]
    assert pair[0] == "kms:Decrypt"
    assert pair[1].startswith("* for not principal ")


def test_a_statement_behind_fn_if_and_a_document_written_as_text_are_read():
    wildcard = {"Effect": "Allow", "Action": "dynamodb:*", "Resource": TABLE}
    conditional = template()
    conditional["Resources"]["Role"]["Properties"]["Policies"] = [
        {
            "PolicyName": "access",
            "PolicyDocument": {
                "Statement": [{"Fn::If": ["Broad", wildcard, {"Ref": "AWS::NoValue"}]}]
            },
        }
    ]
    assert broader(template(), conditional) == {"Role": (("dynamodb:*", TABLE),)}
    as_text = template(
        Access={
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": json.dumps({"Statement": [wildcard]}),
            },
        }
    )
    assert broader(template(), as_text) == {"Role": (("dynamodb:*", TABLE),)}


def test_a_trust_policy_reads_as_before():
    assert role_permissions(template()) == {
        "Role": {("trust sts:AssumeRole", 'principal {"Service": "lambda.amazonaws.com"}')}
    }
