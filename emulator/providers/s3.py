"""AWS::S3::BucketPolicy provider backed by moto's s3 backend, plus fixes to
moto's own AWS::S3::Bucket model.

moto 5.2.5 models AWS::S3::Bucket but not its policy, so ``get_bucket_policy``
after a stack launch raised NoSuchBucketPolicy. Its Bucket model applies only
BucketEncryption and Tags; VersioningConfiguration,
PublicAccessBlockConfiguration and LifecycleConfiguration are applied here too
(OwnershipControls is still ignored).

moto also enforces bucket policies on object requests without evaluating the
"Bool" condition operator, so the usual DenyInsecureTransport statement
(Deny s3:* to "*" if aws:SecureTransport is false) denied EVERY object request
with 403. Bucket permissions are evaluated here as if over TLS, like real
clients of real S3 (the emulator itself is plain HTTP on loopback).
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.exceptions import MissingBucket
from moto.s3.models import FakeBucket, S3Backend, s3_backends
from moto.utilities.utils import get_partition

from .base import Properties, ProviderResource


def _backend(account_id: str, region_name: str) -> S3Backend:
    # S3 is global: moto keys its backend by partition, not region.
    return s3_backends[account_id][get_partition(region_name)]


def _policy_bytes(document: Any) -> bytes:
    text = document if isinstance(document, str) else json.dumps(document)
    return text.encode("utf-8")


class S3BucketPolicy(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::S3::BucketPolicy"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @property
    def bucket(self) -> str:
        return str(self.properties["Bucket"])

    def create(self) -> None:
        _backend(self.account_id, self.region_name).put_bucket_policy(
            self.bucket, _policy_bytes(self.properties["PolicyDocument"])
        )

    def apply_update(self, old: Properties) -> None:
        if old.get("Bucket") != self.bucket:
            self._delete_policy(str(old["Bucket"]))
        self.create()

    def destroy(self) -> None:
        self._delete_policy(self.bucket)

    def _delete_policy(self, bucket: str) -> None:
        try:
            _backend(self.account_id, self.region_name).delete_bucket_policy(bucket)
        except MissingBucket:
            pass  # the bucket went first (moto deletes in arbitrary order)


# --- fixes to moto's native AWS::S3::Bucket model ---


def _apply_bucket_settings(bucket: FakeBucket, properties: Properties) -> None:
    backend = _backend(bucket.account_id, bucket.region_name)
    versioning = properties.get("VersioningConfiguration")
    if versioning:
        backend.put_bucket_versioning(bucket.name, versioning["Status"])
    public_access_block = properties.get("PublicAccessBlockConfiguration")
    if public_access_block:
        backend.put_public_access_block(bucket.name, public_access_block)
    lifecycle = properties.get("LifecycleConfiguration")
    if lifecycle:
        backend.put_bucket_lifecycle_configuration(
            bucket.name, [_lifecycle_rule(rule) for rule in lifecycle.get("Rules", [])]
        )
    elif bucket.rules:
        backend.delete_bucket_lifecycle(bucket.name)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape, which moto's model reads."""
    # No prefix in CloudFormation is the whole bucket; the S3 API needs it said.
    api: dict[str, Any] = {
        "ID": rule.get("Id"),
        "Status": rule["Status"],
        "Prefix": rule.get("Prefix", ""),
    }
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": str(rule["ExpirationInDays"])}
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": str(noncurrent["NoncurrentDays"])}
    if "NoncurrentVersionExpirationInDays" in rule:
        days = str(rule["NoncurrentVersionExpirationInDays"])
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        days = str(abort["DaysAfterInitiation"])
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return api


_original_bucket_create = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
_original_bucket_update = FakeBucket.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _create_bucket(
    cls: type[FakeBucket],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> FakeBucket:
    bucket: FakeBucket = _original_bucket_create(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    _apply_bucket_settings(bucket, cloudformation_json.get("Properties") or {})
    return bucket


def _update_bucket(
    cls: type[FakeBucket],
    original_resource: FakeBucket,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> FakeBucket:
    properties = dict(cloudformation_json.get("Properties") or {})
    # moto reads properties["BucketName"] when tagging (KeyError for generated
    # names); an absent name means "keep the bucket", as in CloudFormation.
    properties.setdefault("BucketName", original_resource.name)
    bucket: FakeBucket = _original_bucket_update(
        cls,
        original_resource,
        new_resource_name,
        {**cloudformation_json, "Properties": properties},
        account_id,
        region_name,
    )
    _apply_bucket_settings(bucket, properties)
    return bucket


# --- bucket policies evaluated as for a request over TLS ---

# Request context presented to bucket policies (lower-cased condition keys).
_REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _condition_holds(condition: dict[str, dict[str, Any]]) -> bool | None:
    """False if a Bool condition on a known key fails, True if every condition
    is such a Bool and holds; None = something moto has to judge itself."""
    undecided = False
    for operator, pairs in condition.items():
        if operator != "Bool":
            undecided = True
            continue
        for key, expected in pairs.items():
            actual = _REQUEST_CONTEXT.get(key.lower())
            if actual is None:
                undecided = True
                continue
            expected_values = expected if isinstance(expected, list) else [expected]
            if actual not in [str(value).lower() for value in expected_values]:
                return False
    return None if undecided else True


def _policy_in_context(policy: dict[str, Any]) -> dict[str, Any]:
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = []
    for statement in statements:
        holds = _condition_holds(statement["Condition"]) if "Condition" in statement else None
        if holds is False:
            continue  # does not apply to this request
        if holds is True:
            statement = {k: v for k, v in statement.items() if k != "Condition"}
        kept.append(statement)
    return {**policy, "Statement": kept}


def _get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = _policy_in_context(json.loads(self.policy))
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


FakeBucket.create_from_cloudformation_json = classmethod(_create_bucket)  # type: ignore[assignment,method-assign]
FakeBucket.update_from_cloudformation_json = classmethod(_update_bucket)  # type: ignore[assignment,method-assign]
FakeBucket.get_permission = _get_permission  # type: ignore[method-assign]
