"""AWS::S3::BucketPolicy stacks put, replace and remove real bucket policies."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _statement(sid: str, action: str) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
        "Action": action,
        "Resource": {"Fn::Sub": "${Artifacts.Arn}/*"},
    }


TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Artifacts": {"Type": "AWS::S3::Bucket"},
        "ArtifactsPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "Artifacts"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [_statement("ReadCode", "s3:GetObject")],
                },
            },
        },
    }
}


def _policy(aws: Any, bucket: str) -> dict[str, Any]:
    return dict(json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"]))


def test_bucket_policy_is_put_updated_and_removed(stacks: Any, aws: Any) -> None:
    name = stacks.create(TEMPLATE)
    bucket = stacks.physical_ids(name)["Artifacts"]
    (statement,) = _policy(aws, bucket)["Statement"]
    assert statement["Sid"] == "ReadCode"
    assert statement["Resource"] == f"arn:aws:s3:::{bucket}/*"
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}

    changed = copy.deepcopy(TEMPLATE)
    changed["Resources"]["ArtifactsPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
        _statement("WriteCode", "s3:PutObject")
    )
    stacks.update(name, changed)
    assert [s["Sid"] for s in _policy(aws, bucket)["Statement"]] == ["ReadCode", "WriteCode"]

    without = copy.deepcopy(TEMPLATE)
    del without["Resources"]["ArtifactsPolicy"]
    stacks.update(name, without)
    with pytest.raises(ClientError) as error:
        aws("s3").get_bucket_policy(Bucket=bucket)
    assert error.value.response["Error"]["Code"] == "NoSuchBucketPolicy"


def test_deny_insecure_transport_policy_still_lets_objects_through(stacks: Any, aws: Any) -> None:
    """moto ignores the Bool condition, so this Deny used to block every object
    request; the emulator evaluates it as if the request came over TLS."""
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["ArtifactsPolicy"]["Properties"]["PolicyDocument"]["Statement"] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [
                {"Fn::GetAtt": ["Artifacts", "Arn"]},
                {"Fn::Sub": "${Artifacts.Arn}/*"},
            ],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyDeletes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteObject",
            "Resource": {"Fn::Sub": "${Artifacts.Arn}/*"},
        },
    ]
    name = stacks.create(template)
    bucket = stacks.physical_ids(name)["Artifacts"]
    s3 = aws("s3")
    s3.put_object(Bucket=bucket, Key="lambda/connect.zip", Body=b"zip")
    assert s3.get_object(Bucket=bucket, Key="lambda/connect.zip")["Body"].read() == b"zip"
    # An unconditional Deny is still enforced.
    with pytest.raises(ClientError) as error:
        s3.delete_object(Bucket=bucket, Key="lambda/connect.zip")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
