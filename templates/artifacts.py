"""Artifacts: the bucket that the packaging hook uploads function zips to."""

from troposphere import Ref

from tunnel_infra.aws import s3
from tunnel_infra.blueprint import Blueprint


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "function artifacts bucket")

    artifacts_bucket = s3.artifacts_bucket(stack, "ArtifactsBucket")
    s3.tls_only_policy(stack, "ArtifactsBucketPolicy", artifacts_bucket)

    stack.output("ArtifactsBucketName", Ref(artifacts_bucket), "Bucket of the function zips")
    return stack.render()
