"""The moto-native resource types the project uses really create objects, and
emulator.providers.SUPPORTED_TYPES lists exactly what the emulator creates."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.providers import NATIVE_TYPES, PROVIDED_TYPES, SUPPORTED_TYPES

ASSUME_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "CodeBucket": {"Type": "String"},
        "CodeKey": {"Type": "String"},
        "HostedZoneId": {"Type": "String"},
    },
    "Resources": {
        "Connections": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "native-connections",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "agent", "AttributeType": "S"},
                ],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "by-agent",
                        "KeySchema": [{"AttributeName": "agent", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
        },
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "native-connect-role",
                "AssumeRolePolicyDocument": ASSUME_LAMBDA,
                "Policies": [
                    {
                        "PolicyName": "table",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "dynamodb:PutItem",
                                    "Resource": {"Fn::GetAtt": ["Connections", "Arn"]},
                                }
                            ],
                        },
                    }
                ],
            },
        },
        "ExtraPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "logs",
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}
                    ],
                },
            },
        },
        "Logs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": "/aws/lambda/native-connect", "RetentionInDays": 30},
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "native-connect",
                "Runtime": "python3.11",
                "Handler": "handler.handle",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}},
                "MemorySize": 256,
                "Timeout": 10,
                "Environment": {"Variables": {"TABLE": {"Ref": "Connections"}}},
            },
        },
        "Permission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Ref": "Function"},
                "Principal": "apigateway.amazonaws.com",
            },
        },
        "Key": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": "native key",
                "KeyPolicy": KEY_POLICY,
                "Tags": [{"Key": "project", "Value": "tunnel"}],
            },
        },
        "KeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": "alias/native-tunnel", "TargetKeyId": {"Ref": "Key"}},
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "native-alerts"}},
        # The tunnel's DNS: an alias A record to an API Gateway regional domain name.
        "Alias": {
            "Type": "AWS::Route53::RecordSet",
            "Properties": {
                "HostedZoneId": {"Ref": "HostedZoneId"},
                "Name": "*.tunnel.example.com",
                "Type": "A",
                "AliasTarget": {
                    "DNSName": "d-abcdef1234.execute-api.us-east-1.amazonaws.com",
                    "HostedZoneId": "Z1UJRXOUMOOFQ8",
                    "EvaluateTargetHealth": False,
                },
            },
        },
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": "native-artifacts",
                "VersioningConfiguration": {"Status": "Enabled"},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "expire",
                            "Status": "Enabled",
                            "Prefix": "spill/",
                            "ExpirationInDays": 1,
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                        }
                    ]
                },
            },
        },
    },
    "Outputs": {
        "TableArn": {"Value": {"Fn::GetAtt": ["Connections", "Arn"]}},
        "LogGroup": {"Value": {"Ref": "Logs"}},
        "KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}},
    },
}


def _code_zip(status: int = 200) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", f"def handle(event, context):\n    return {status}\n")
    return buffer.getvalue()


def test_template_covers_exactly_the_native_types() -> None:
    assert {r["Type"] for r in TEMPLATE["Resources"].values()} == NATIVE_TYPES
    assert SUPPORTED_TYPES == NATIVE_TYPES | PROVIDED_TYPES
    assert not NATIVE_TYPES & PROVIDED_TYPES


def _alias_records(aws: Any, zone_id: str) -> list[dict[str, Any]]:
    records = aws("route53").list_resource_record_sets(HostedZoneId=zone_id)
    return [r for r in records["ResourceRecordSets"] if r["Type"] == "A"]


def test_native_types_create_and_delete_real_objects(stacks: Any, aws: Any) -> None:
    aws("s3").create_bucket(Bucket="native-code")
    aws("s3").put_object(Bucket="native-code", Key="connect.zip", Body=_code_zip())
    zone = aws("route53").create_hosted_zone(Name="tunnel.example.com", CallerReference="native")
    zone_id = zone["HostedZone"]["Id"].split("/")[-1]
    parameters = {"CodeBucket": "native-code", "CodeKey": "connect.zip", "HostedZoneId": zone_id}
    name = stacks.create(TEMPLATE, parameters)
    ids = stacks.physical_ids(name)

    (alias,) = _alias_records(aws, zone_id)
    assert alias["Name"] == "*.tunnel.example.com"
    assert alias["AliasTarget"]["DNSName"] == "d-abcdef1234.execute-api.us-east-1.amazonaws.com"
    assert alias["AliasTarget"]["HostedZoneId"] == "Z1UJRXOUMOOFQ8"
    assert ids["Alias"] == "*.tunnel.example.com"  # Ref: the record's name

    table = aws("dynamodb").describe_table(TableName="native-connections")["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by-agent"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # Plain moto ignores the TTL (emulator.providers.dynamodb applies it).
    ttl = aws("dynamodb").describe_time_to_live(TableName="native-connections")
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }

    iam = aws("iam")
    assert iam.get_role(RoleName="native-connect-role")["Role"]["Arn"].endswith(
        ":role/native-connect-role"
    )
    policies = iam.list_role_policies(RoleName="native-connect-role")["PolicyNames"]
    assert sorted(policies) == ["logs", "table"]

    function = aws("lambda").get_function(FunctionName="native-connect")["Configuration"]
    assert function["Environment"]["Variables"] == {"TABLE": "native-connections"}
    assert function["Role"].endswith(":role/native-connect-role")
    (statement,) = json.loads(aws("lambda").get_policy(FunctionName="native-connect")["Policy"])[
        "Statement"
    ]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}

    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/native-connect")[
        "logGroups"
    ]
    assert group["retentionInDays"] == 30

    # Tags, DescribeKey, GetKeyPolicy: HTTP 500 in plain moto (emulator.providers.kms).
    key = aws("kms").describe_key(KeyId="alias/native-tunnel")["KeyMetadata"]
    assert (key["KeyId"], key["Description"]) == (ids["Key"], "native key")
    assert aws("kms").list_resource_tags(KeyId=ids["Key"])["Tags"] == [
        {"TagKey": "project", "TagValue": "tunnel"}
    ]
    policy = json.loads(aws("kms").get_key_policy(KeyId=ids["Key"], PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}

    assert ids["Topic"] in [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]]
    # Plain moto ignores these three (emulator.providers.s3 applies them).
    versioning = aws("s3").get_bucket_versioning(Bucket="native-artifacts")
    assert versioning["Status"] == "Enabled"
    block = aws("s3").get_public_access_block(Bucket="native-artifacts")
    assert set(block["PublicAccessBlockConfiguration"].values()) == {True}
    (rule,) = aws("s3").get_bucket_lifecycle_configuration(Bucket="native-artifacts")["Rules"]
    assert (rule["ID"], rule["Status"], rule["Expiration"]["Days"]) == ("expire", "Enabled", 1)
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1

    # Updating types moto cannot update in place must not break the stack
    # (emulator.native_updates), and a new code key must reach the function.
    aws("s3").put_object(Bucket="native-code", Key="connect-v2.zip", Body=_code_zip(201))
    changed = copy.deepcopy(TEMPLATE)
    changed["Resources"]["Logs"]["Properties"]["RetentionInDays"] = 90
    changed["Resources"]["Key"]["Properties"]["Description"] = "native key v2"
    target = changed["Resources"]["Alias"]["Properties"]["AliasTarget"]
    target["DNSName"] = "d-0000000000.execute-api.us-east-1.amazonaws.com"
    sha_before = function["CodeSha256"]
    stacks.update(name, changed, {**parameters, "CodeKey": "connect-v2.zip"})
    (alias,) = _alias_records(aws, zone_id)
    assert alias["AliasTarget"]["DNSName"] == "d-0000000000.execute-api.us-east-1.amazonaws.com"
    outputs = stacks.outputs(name)
    assert outputs["LogGroup"] == "/aws/lambda/native-connect"
    assert outputs["KeyArn"] == key["Arn"]
    assert outputs["TableArn"] == table["TableArn"]
    function = aws("lambda").get_function(FunctionName="native-connect")["Configuration"]
    assert function["CodeSha256"] != sha_before

    stacks.delete(name)
    assert (
        aws("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/native-connect")[
            "logGroups"
        ]
        == []
    )
    with pytest.raises(ClientError):
        aws("dynamodb").describe_table(TableName="native-connections")
    with pytest.raises(ClientError):
        aws("lambda").get_function(FunctionName="native-connect")
    with pytest.raises(ClientError):
        iam.get_role(RoleName="native-connect-role")
    assert ids["Topic"] not in [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]]
    assert _alias_records(aws, zone_id) == []  # the zone itself was not the stack's
