"""S3: the bucket that holds the function zips."""

from __future__ import annotations

from awacs import s3 as s3_actions
from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Ref, Sub
from troposphere.s3 import (
    Bucket,
    BucketEncryption,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    NoncurrentVersionExpiration,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)

from tunnel_infra.blueprint import Blueprint
from tunnel_infra.suppressions import skip_checkov

NONCURRENT_VERSION_DAYS = 30


def artifacts_bucket(stack: Blueprint, logical_id: str) -> Bucket:
    """Versioned, encrypted, private; old versions of a zip expire."""
    bucket = Bucket(
        logical_id,
        BucketName=Sub(f"{stack.name('artifacts')}-${{AWS::AccountId}}-${{AWS::Region}}"),
        VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
        BucketEncryption=BucketEncryption(
            ServerSideEncryptionConfiguration=[
                ServerSideEncryptionRule(
                    BucketKeyEnabled=True,
                    ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(
                        SSEAlgorithm="AES256"
                    ),
                )
            ]
        ),
        PublicAccessBlockConfiguration=PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        OwnershipControls=OwnershipControls(
            Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
        LifecycleConfiguration=LifecycleConfiguration(
            Rules=[
                LifecycleRule(
                    Id="expire-noncurrent-zips",
                    Status="Enabled",
                    NoncurrentVersionExpiration=NoncurrentVersionExpiration(
                        NoncurrentDays=NONCURRENT_VERSION_DAYS
                    ),
                )
            ]
        ),
    )
    skip_checkov(
        bucket,
        "CKV_AWS_18",
        "Holds only build artifacts written by the deploy hook; CloudTrail records access",
    )
    return stack.add(bucket)


def tls_only_policy(stack: Blueprint, logical_id: str, bucket: Bucket) -> BucketPolicy:
    """Deny every request that does not use TLS."""
    return stack.add(
        BucketPolicy(
            logical_id,
            Bucket=Ref(bucket),
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="DenyInsecureTransport",
                        Effect=Deny,
                        Principal=Principal("*"),
                        # A Deny: every action, so no request over plain HTTP gets through.
                        Action=[s3_actions.Action("*")],
                        Resource=[GetAtt(bucket, "Arn"), Sub(f"${{{bucket.title}.Arn}}/*")],
                        Condition=Condition(Bool("aws:SecureTransport", False)),
                    )
                ],
            ),
        )
    )
