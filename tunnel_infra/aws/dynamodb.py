"""DynamoDB: on-demand tables with TTL and per-environment protection."""

from __future__ import annotations

from troposphere import AWSHelperFn, Delete, Retain, RetainExceptOnCreate
from troposphere.dynamodb import (
    AttributeDefinition,
    KeySchema,
    PointInTimeRecoverySpecification,
    SSESpecification,
    Table,
    TimeToLiveSpecification,
)

from tunnel_infra import access
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.suppressions import skip_checkov

TTL_ATTRIBUTE = "ttl"


def table(
    stack: Blueprint,
    declared: access.Table,
    key_arn: AWSHelperFn | None = None,
) -> Table:
    """A PAY_PER_REQUEST table named ``http-tunnel-<key>-<env>``, with TTL on ``ttl``."""
    protect = stack.settings.data_protection
    resource = Table(
        declared.logical_id,
        TableName=stack.name(declared.key),
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            AttributeDefinition(AttributeName=declared.hash_key, AttributeType="S")
        ],
        KeySchema=[KeySchema(AttributeName=declared.hash_key, KeyType="HASH")],
        TimeToLiveSpecification=TimeToLiveSpecification(AttributeName=TTL_ATTRIBUTE, Enabled=True),
        PointInTimeRecoverySpecification=PointInTimeRecoverySpecification(
            PointInTimeRecoveryEnabled=protect
        ),
        DeletionProtectionEnabled=protect,
        SSESpecification=_encryption(key_arn),
    )
    # Retain where the data matters, except when the create that made the table rolls back:
    # a retained empty table would hold its name and fail every retry. (UpdateReplacePolicy
    # takes only Delete, Retain or Snapshot.) Dev tables go with their stack.
    resource.DeletionPolicy = RetainExceptOnCreate if protect else Delete
    resource.UpdateReplacePolicy = Retain if protect else Delete
    if not protect:
        skip_checkov(
            resource, "CKV_AWS_28", "Point-in-time recovery is on where data_protection is"
        )
    if key_arn is None:
        skip_checkov(
            resource, "CKV_AWS_119", "Encrypted with the AWS owned key; a CMK where enabled"
        )
    return stack.add(resource)


def _encryption(key_arn: AWSHelperFn | None) -> SSESpecification:
    # SSEEnabled: true without a key is the AWS managed key (alias/aws/dynamodb, KMS charges
    # per request); false is the AWS owned key, free. Tables are encrypted either way.
    if key_arn is None:
        return SSESpecification(SSEEnabled=False)
    return SSESpecification(SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=key_arn)
