"""``!package_functions``: zip every function of ours (not those in ``existing_functions``); with a
bucket, upload the zips it lacks.

Wired on ``before_create``, ``before_update`` and ``before_create_change_set``:
- on every stack of an environment without an argument, so a function that does not compile
  stops the launch before any stack is touched;
- on the functions stack with ``{bucket: !stack_output <env>/artifacts.yaml::ArtifactsBucketName}``,
  so the zips are in S3 before CloudFormation reads them.

Keys are content-addressed (``functions/<name>/<sha256>.zip``): a key already in the bucket holds
exactly these bytes, so it is never uploaded again, and unchanged code uploads nothing. Hooks run
in parallel across stacks, so the uploads happen here and not in the (serialised) resolver.
"""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from sceptre.exceptions import SceptreException
from sceptre.hooks import Hook

from tunnel_infra.config_errors import stack_settings
from tunnel_infra.functions import FUNCTIONS
from tunnel_infra.packaging import Artifact, PackagingError, package


class FunctionPackagingError(SceptreException):
    """Packaging or uploading failed; the stack was not touched."""


class PackageFunctions(Hook):
    def run(self) -> None:
        artifacts = self._package()
        bucket = (self.argument or {}).get("bucket") if isinstance(self.argument, dict) else None
        if bucket is None:
            return
        self._require_bucket(bucket)
        for artifact in artifacts:
            size = f"{len(artifact.data) / 1024:.1f} KiB"
            if self._exists(bucket, artifact):
                self.logger.info(f"function {artifact.name}: {artifact.key} unchanged, skipped")
            else:
                self._upload(bucket, artifact)
                self.logger.info(f"function {artifact.name}: {artifact.key} uploaded ({size})")

    def _package(self) -> list[Artifact]:
        project = Path(self.stack.stack_group_config["project_path"])
        # Validated first: a bad architecture names its key, its file and line, and the valid
        # values, not the packager's view of it.
        settings = stack_settings(self.stack)
        architecture = settings.architecture
        try:
            return [
                package(project, function.name, architecture)
                for function in FUNCTIONS
                # An existing function's code is its owner's (existing_functions).
                if settings.ours(function.name)
            ]
        except PackagingError as error:
            raise FunctionPackagingError(f"{self.stack.name}: {error}") from None

    def _require_bucket(self, bucket: str) -> None:
        try:
            self._s3("head_bucket", Bucket=bucket)
        except ClientError as error:
            raise FunctionPackagingError(
                f"{self.stack.name}: artifacts bucket {bucket!r} is missing or not reachable "
                f"({_code(error)}); launch the artifacts stack first"
            ) from None
        except BotoCoreError as error:
            raise FunctionPackagingError(
                f"{self.stack.name}: artifacts bucket {bucket!r} is not reachable: {error}"
            ) from None

    def _exists(self, bucket: str, artifact: Artifact) -> bool:
        try:
            self._s3("head_object", Bucket=bucket, Key=artifact.key)
            return True
        except ClientError as error:
            if _code(error) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise FunctionPackagingError(
                f"{self.stack.name}: cannot check s3://{bucket}/{artifact.key} ({_code(error)})"
            ) from None

    def _upload(self, bucket: str, artifact: Artifact) -> None:
        try:
            self._s3(
                "put_object",
                Bucket=bucket,
                Key=artifact.key,
                Body=artifact.data,
                ContentType="application/zip",
            )
        except (ClientError, BotoCoreError) as error:
            code = _code(error) if isinstance(error, ClientError) else str(error)
            raise FunctionPackagingError(
                f"{self.stack.name}: upload of {artifact.name} to s3://{bucket}/{artifact.key} "
                f"failed ({code}); the stack was not touched"
            ) from None

    def _s3(self, command: str, **kwargs: object) -> dict:
        return self.stack.connection_manager.call("s3", command, kwargs)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "unknown error"))
