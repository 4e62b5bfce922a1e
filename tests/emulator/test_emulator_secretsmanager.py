"""AWS::SecretsManager::Secret stacks create real secrets with random values."""

from __future__ import annotations

import copy
import json
import string
from typing import Any

import pytest
from botocore.exceptions import ClientError

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
    "Resources": {
        "Token": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Name": {"Fn::Sub": "tunnel/${Env}/${AWS::StackName}/token"},
                "Description": "agent token",
                "GenerateSecretString": {"PasswordLength": 40, "ExcludePunctuation": True},
                "Tags": [{"Key": "project", "Value": "tunnel"}],
            },
        },
        "Credentials": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "GenerateSecretString": {
                    "SecretStringTemplate": '{"username": "agent"}',
                    "GenerateStringKey": "password",
                    "PasswordLength": 16,
                    "ExcludeCharacters": '"@/\\',
                }
            },
        },
    },
    "Outputs": {"TokenArn": {"Value": {"Ref": "Token"}}},
}


def _value(aws: Any, secret_id: str) -> str:
    return str(aws("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])


def test_generated_secret_values_are_random(stacks: Any, aws: Any) -> None:
    first, second = stacks.create(TEMPLATE), stacks.create(TEMPLATE)
    arn = stacks.outputs(first)["TokenArn"]
    assert arn.startswith(
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:tunnel/dev/{first}/token-"
    )

    described = aws("secretsmanager").describe_secret(SecretId=arn)
    assert described["Name"] == f"tunnel/dev/{first}/token"
    assert described["Description"] == "agent token"
    assert described["Tags"] == [{"Key": "project", "Value": "tunnel"}]

    token = _value(aws, arn)
    assert len(token) == 40
    assert set(token) <= set(string.ascii_letters + string.digits)
    assert token != _value(aws, stacks.outputs(second)["TokenArn"])

    credentials = json.loads(_value(aws, stacks.physical_ids(first)["Credentials"]))
    assert credentials["username"] == "agent"
    assert len(credentials["password"]) == 16
    assert not set(credentials["password"]) & set('"@/\\')


def test_update_keeps_value_unless_its_definition_changes(stacks: Any, aws: Any) -> None:
    name = stacks.create(TEMPLATE)
    arn = stacks.outputs(name)["TokenArn"]
    token = _value(aws, arn)

    described = copy.deepcopy(TEMPLATE)
    described["Resources"]["Token"]["Properties"]["Description"] = "rotated by hand"
    stacks.update(name, described)
    assert aws("secretsmanager").describe_secret(SecretId=arn)["Description"] == "rotated by hand"
    assert _value(aws, arn) == token

    longer = copy.deepcopy(described)
    longer["Resources"]["Token"]["Properties"]["GenerateSecretString"]["PasswordLength"] = 64
    stacks.update(name, longer)
    assert len(_value(aws, arn)) == 64


def test_delete_stack_deletes_the_secret(stacks: Any, aws: Any) -> None:
    name = stacks.create(TEMPLATE)
    arn = stacks.outputs(name)["TokenArn"]
    stacks.delete(name)
    with pytest.raises(ClientError) as error:
        aws("secretsmanager").describe_secret(SecretId=arn)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
