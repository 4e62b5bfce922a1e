"""Issue 18 A3: a protected environment's tables (staging's, as rendered) are kept with their
stack, but not by a first create that rolls back: its retry must not fail on their names.

DeletionPolicy RetainExceptOnCreate, applied by the emulator as CloudFormation does
(emulator/strict.py: moto kept only Retain, on rollback too)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from cfn_flip import load_yaml

from tests.conftest import PROJECT

# A resource that fails after the tables are made: a REGIONAL domain whose certificate is in
# another region (rules.check_domain_certificate).
FAILS = {
    "Type": "AWS::ApiGatewayV2::DomainName",
    "Properties": {
        "DomainName": "retry.example.com",
        "DomainNameConfigurations": [
            {
                "CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
                "EndpointType": "REGIONAL",
            }
        ],
    },
}


def _tables_template() -> dict[str, Any]:
    """Staging's tables, without DeletionProtectionEnabled: whether CloudFormation's rollback
    can delete a deletion-protected table it has just made is not confirmed (moto cannot, and
    leaves it), so this shows the deletion policy alone."""
    template = load_yaml((PROJECT / "tests" / "snapshots" / "staging" / "tables.yaml").read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::DynamoDB::Table":
            resource["Properties"].pop("DeletionProtectionEnabled", None)
    return template


def _table_names(template: dict[str, Any]) -> set[str]:
    return {
        r["Properties"]["TableName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::DynamoDB::Table"
    }


def test_a_rolled_back_create_leaves_no_table_and_a_deleted_stack_keeps_them(aws: Any) -> None:
    cfn, dynamodb = aws("cloudformation"), aws("dynamodb")
    template = _tables_template()
    names = _table_names(template)
    assert names and not names & set(dynamodb.list_tables()["TableNames"])
    failing = json.loads(json.dumps(template))
    failing["Resources"]["Fails"] = {
        **FAILS,
        "DependsOn": sorted(
            k for k, r in template["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"
        ),
    }
    first = f"retry-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=first, TemplateBody=json.dumps(failing))
    assert cfn.describe_stacks(StackName=first)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    # The rollback deleted what the create made: nothing holds the names.
    assert not names & set(dynamodb.list_tables()["TableNames"])
    cfn.delete_stack(StackName=first)

    retry = f"retry-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=retry, TemplateBody=json.dumps(template))
    assert cfn.describe_stacks(StackName=retry)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    # Once made, they are kept as Retain keeps them.
    cfn.delete_stack(StackName=retry)
    assert names <= set(dynamodb.list_tables()["TableNames"])
    for name in names:
        dynamodb.delete_table(TableName=name)
