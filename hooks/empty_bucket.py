"""``!empty_bucket <OutputName>``: before the stack is deleted, empty the bucket it outputs.

CloudFormation cannot delete a bucket that still holds objects, so deleting the artifacts stack
would fail. Its zips are derived data, rebuilt from source and content-addressed, so emptying
the bucket (every version and delete marker) loses nothing.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from sceptre.exceptions import SceptreException
from sceptre.hooks import Hook


class BucketEmptyingError(SceptreException):
    """The bucket could not be emptied; the stack was not deleted."""


class EmptyBucket(Hook):
    def run(self) -> None:
        # Sceptre runs before_delete hooks before its own protection check: check first here.
        if self.stack.protected:
            raise BucketEmptyingError(
                f"{self.stack.name} is protected (protect: true); its bucket was not emptied"
            )
        output = self.argument
        if not isinstance(output, str) or not output:
            raise BucketEmptyingError(f"{self.stack.name}: !empty_bucket needs an output name")
        bucket = self._bucket(output)
        if bucket is None:
            return
        removed = 0
        try:
            pages = self._s3("list_object_versions", Bucket=bucket)
            while True:
                versions = pages.get("Versions", []) + pages.get("DeleteMarkers", [])
                if versions:
                    objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]
                    self._s3(
                        "delete_objects", Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
                    )
                    removed += len(objects)
                if not pages.get("IsTruncated"):
                    break
                pages = self._s3(
                    "list_object_versions",
                    Bucket=bucket,
                    KeyMarker=pages["NextKeyMarker"],
                    VersionIdMarker=pages["NextVersionIdMarker"],
                )
        except (ClientError, BotoCoreError) as error:
            raise BucketEmptyingError(
                f"{self.stack.name}: cannot empty {bucket}: {error}"
            ) from None
        self.logger.info(f"emptied s3://{bucket}: {removed} object versions removed")

    def _bucket(self, output: str) -> str | None:
        """The bucket named by the stack's output, or None if the stack or bucket is gone."""
        try:
            described = self._call(
                "cloudformation", "describe_stacks", StackName=self.stack.external_name
            )
        except ClientError:
            return None
        outputs = described["Stacks"][0].get("Outputs", [])
        bucket = next((o["OutputValue"] for o in outputs if o["OutputKey"] == output), None)
        if bucket is None:
            return None
        try:
            self._s3("head_bucket", Bucket=bucket)
        except ClientError:
            return None
        return bucket

    def _s3(self, command: str, **kwargs: object) -> dict:
        return self._call("s3", command, **kwargs)

    def _call(self, service: str, command: str, **kwargs: object) -> dict:
        return self.stack.connection_manager.call(service, command, kwargs)
