"""KMS: the environment's customer-managed key for tables, logs, secrets and function settings."""

from __future__ import annotations

from awacs import kms as kms_actions
from awacs.aws import (
    Allow,
    ArnLike,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import Ref, Retain, RetainExceptOnCreate, Sub
from troposphere.kms import Alias, Key
from tunnel_shared.names import PROJECT

from tunnel_infra.blueprint import Blueprint

# Key administration by the account, listed; without PutKeyPolicy CloudFormation is locked out.
ADMINISTRATION = (
    kms_actions.CancelKeyDeletion,
    kms_actions.CreateAlias,
    kms_actions.CreateGrant,
    kms_actions.DeleteAlias,
    kms_actions.DescribeKey,
    kms_actions.DisableKey,
    kms_actions.DisableKeyRotation,
    kms_actions.EnableKey,
    kms_actions.EnableKeyRotation,
    kms_actions.GetKeyPolicy,
    kms_actions.GetKeyRotationStatus,
    kms_actions.ListGrants,
    kms_actions.ListResourceTags,
    kms_actions.PutKeyPolicy,
    kms_actions.RetireGrant,
    kms_actions.RevokeGrant,
    kms_actions.ScheduleKeyDeletion,
    kms_actions.TagResource,
    kms_actions.UntagResource,
    kms_actions.UpdateAlias,
    kms_actions.UpdateKeyDescription,
)
# Data use, delegated to IAM: a role can use the key only if its own policy grants it.
DATA_USE = (
    kms_actions.Decrypt,
    kms_actions.Encrypt,
    kms_actions.GenerateDataKey,
)
# What CloudWatch Logs needs to encrypt this environment's log groups.
LOGS_USE = (
    kms_actions.Decrypt,
    kms_actions.DescribeKey,
    kms_actions.Encrypt,
    kms_actions.GenerateDataKey,
    kms_actions.ReEncryptFrom,
    kms_actions.ReEncryptTo,
)
# What CloudWatch alarms need to publish to an encrypted SNS topic.
ALARMS_USE = (kms_actions.Decrypt, kms_actions.GenerateDataKey)


def data_key(stack: Blueprint, logical_id: str) -> Key:
    account = Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"))
    statements = [
        Statement(
            Sid="AccountAdministersKey",
            Effect=Allow,
            Principal=account,
            Action=list(ADMINISTRATION),
            Resource=["*"],  # in a key policy, "*" means this key
        ),
        Statement(
            Sid="AccountDelegatesDataUseToIam",
            Effect=Allow,
            Principal=account,
            Action=list(DATA_USE),
            Resource=["*"],
        ),
        Statement(
            Sid="LogsEncryptsThisEnvironmentsLogGroups",
            Effect=Allow,
            Principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
            Action=list(LOGS_USE),
            Resource=["*"],
            Condition=Condition(
                ArnLike(
                    "kms:EncryptionContext:aws:logs:arn",
                    Sub(
                        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                        f"log-group:/aws/*/{PROJECT}-*-{stack.environment}"
                    ),
                )
            ),
        ),
        Statement(
            Sid="AlarmsPublishToEncryptedTopic",
            Effect=Allow,
            Principal=Principal("Service", "cloudwatch.amazonaws.com"),
            Action=list(ALARMS_USE),
            Resource=["*"],
            # Only this account's alarms: a service principal acts for every account.
            Condition=Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId"))),
        ),
    ]
    return stack.add(
        Key(
            logical_id,
            Description=f"{stack.name('data')}: tables, logs, secrets and function settings",
            EnableKeyRotation=True,
            KeyPolicy=PolicyDocument(Version="2012-10-17", Statement=statements),
            # Kept with what it encrypted, but not when the create that made it rolls back: the
            # retry makes a new key, and a retained one would cost a month's fee for nothing.
            DeletionPolicy=RetainExceptOnCreate,
            UpdateReplacePolicy=Retain,
        )
    )


def alias(stack: Blueprint, logical_id: str, key: Key) -> Alias:
    return stack.add(
        Alias(logical_id, AliasName=f"alias/{stack.name('data')}", TargetKeyId=Ref(key))
    )
