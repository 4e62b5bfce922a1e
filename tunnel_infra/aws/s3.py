"""S3: the bucket that holds the function zips, and the one where large bodies wait."""

from __future__ import annotations

from awacs import s3 as s3_actions
from awacs.aws import Bool, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Ref, Sub
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
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
# A body lives seconds (forwarding deletes it); the rule is for those a crash left behind.
# S3's lifecycle granularity is a day.
BODY_EXPIRY_DAYS = 1


def artifacts_bucket(stack: Blueprint, logical_id: str) -> Bucket:
    """Versioned, encrypted, private; old versions of a zip expire."""
    bucket = Bucket(
        logical_id,
        BucketName=_bucket_name(stack, "artifacts"),
        VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
        **_private_and_encrypted(),
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


def bodies_bucket(stack: Blueprint, logical_id: str, prefix: str) -> Bucket:
    """Encrypted, private, unversioned (a deleted body is gone); what is left under ``prefix``
    expires after a day."""
    bucket = Bucket(
        logical_id,
        BucketName=_bucket_name(stack, "bodies"),
        **_private_and_encrypted(),
        LifecycleConfiguration=LifecycleConfiguration(
            Rules=[
                LifecycleRule(
                    Id="expire-bodies",
                    Status="Enabled",
                    Prefix=prefix,
                    ExpirationInDays=BODY_EXPIRY_DAYS,
                    AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                        DaysAfterInitiation=BODY_EXPIRY_DAYS
                    ),
                )
            ]
        ),
    )
    skip_checkov(
        bucket,
        "CKV_AWS_18",
        "Holds request and response bodies for seconds; access logs would copy them for longer",
    )
    skip_checkov(
        bucket,
        "CKV_AWS_21",
        "Unversioned on purpose: a body must be gone once deleted, not kept as a version",
    )
    return stack.add(bucket)


def _bucket_name(stack: Blueprint, thing: str) -> Sub:
    # Bucket names are global: the account and region make them unique.
    return Sub(f"{stack.name(thing)}-${{AWS::AccountId}}-${{AWS::Region}}")


def _private_and_encrypted() -> dict:
    return {
        "BucketEncryption": BucketEncryption(
            ServerSideEncryptionConfiguration=[
                # No BucketKeyEnabled: S3 Bucket Keys apply to SSE-KMS only, not to AES256.
                ServerSideEncryptionRule(
                    ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(
                        SSEAlgorithm="AES256"
                    ),
                )
            ]
        ),
        "PublicAccessBlockConfiguration": PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        "OwnershipControls": OwnershipControls(
            Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
    }


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
