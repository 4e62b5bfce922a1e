"""Bodies too large for one WebSocket message cross through S3, for the seconds they take.

The forwarding function owns every object: a request body it writes itself and hands the agent
as a presigned GET; a response body the agent uploads to a presigned PUT that came with the
request. Presigning is local (a signature over the URL with the function's own credentials):
no AWS call, so every request carries its PUT URL at no cost. Each URL names one key and one
method, and expires in ``URL_SECONDS``: a request cannot outlive the HTTP API's 30 s anyway.
It names the bucket's regional host, never S3's global one (``resources.s3_client``): outside
us-east-1 the global host redirects a bucket under a day old, or refuses it for good.

Keys are ``<prefix><requestId>/request`` and ``<prefix><requestId>/response``, under the prefix
that the bucket's lifecycle rule expires after a day, for what a crash leaves behind
(tunnel_infra.aws.s3.bodies_bucket). Otherwise forwarding deletes both when the request ends.

A streamed answer's large parts are ``<prefix><requestId>/part-<seq>``: how many there will be
is not known when the request goes out, so the agent gets one presigned POST (S3's form upload,
"Browser-based uploads using POST", https://docs.aws.amazon.com/AmazonS3/latest/API/
sigv4-HTTPPOSTConstructPolicy.html) whose policy allows any key that starts with
``<prefix><requestId>/part-``, of 1 to ``STREAM_PART_BYTES`` bytes, for as long as a stream may
last. forwarding reads each part when its chunk comes, writes it to the caller and deletes it;
parts of a stream cut short are left to the lifecycle rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunnel_shared.limits import HTTP_API_TIMEOUT_SECONDS, STREAM_MAX_SECONDS, STREAM_PART_BYTES
from tunnel_shared.protocol import PartsUpload, StoredBody
from tunnel_shared.resources import s3_client

URL_SECONDS = HTTP_API_TIMEOUT_SECONDS


class PartMissing(Exception):
    """A stored part that is not there, or not the size its chunk says."""


class BodyTooLarge(Exception):
    """A stored response body over the limit; ``size`` says how large it is."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@dataclass(frozen=True)
class BodyStore:
    """``s3://<bucket>/<prefix>``, as the ``BODIES_OBJECTS`` variable gives it."""

    bucket: str
    prefix: str

    @classmethod
    def at(cls, location: str) -> BodyStore:
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if not location.startswith("s3://") or not bucket:
            raise ValueError(f"not an s3://<bucket>/<prefix> location: {location!r}")
        return cls(bucket, prefix)

    def key(self, request_id: str, part: str) -> str:
        return f"{self.prefix}{request_id}/{part}"

    def response_url(self, request_id: str) -> str:
        """Where the agent may PUT this request's response body, once, for URL_SECONDS."""
        return self._presign("put_object", self.key(request_id, "response"))

    def parts_upload(self, request_id: str) -> PartsUpload:
        """Where the agent may upload this request's streamed parts, for STREAM_MAX_SECONDS:
        any key ``part-<seq>`` under the request's own prefix (module docstring)."""
        # A key ending in ${filename} makes boto3 write ["starts-with", "$key", <the rest>].
        post = s3_client().generate_presigned_post(
            self.bucket,
            self.key(request_id, "part-${filename}"),
            Conditions=[["content-length-range", 1, STREAM_PART_BYTES]],
            ExpiresIn=STREAM_MAX_SECONDS,
        )
        return PartsUpload(post["url"], {k: str(v) for k, v in post["fields"].items()})

    def read_part(self, request_id: str, seq: int, size: int) -> bytes:
        """The part the agent uploaded for chunk ``seq``, which must be ``size`` bytes; it is
        deleted once read. ``PartMissing`` when it is not there or not that size."""
        key = self.key(request_id, f"part-{seq}")
        client = s3_client()
        try:
            found = client.get_object(Bucket=self.bucket, Key=key)
        except (client.exceptions.NoSuchKey, client.exceptions.ClientError) as error:
            raise PartMissing(f"part {seq} of the answer is not in S3") from error
        stream: Any = found["Body"]
        try:
            if int(found["ContentLength"]) != size:
                raise PartMissing(f"part {seq} of the answer is not the {size} bytes it said")
            data: bytes = stream.read()
        finally:
            stream.close()
        client.delete_object(Bucket=self.bucket, Key=key)
        return data

    def put_request(self, request_id: str, body: bytes) -> StoredBody:
        key = self.key(request_id, "request")
        s3_client().put_object(Bucket=self.bucket, Key=key, Body=body)
        return StoredBody(self._presign("get_object", key), len(body))

    def read_response(self, request_id: str, limit: int) -> bytes:
        """The uploaded response body; ``BodyTooLarge`` over ``limit`` bytes (not read)."""
        found = s3_client().get_object(Bucket=self.bucket, Key=self.key(request_id, "response"))
        stream: Any = found["Body"]
        try:
            if int(found["ContentLength"]) > limit:
                raise BodyTooLarge(int(found["ContentLength"]))
            return stream.read()
        finally:
            stream.close()

    def delete(self, request_id: str, parts: tuple[str, ...]) -> None:
        for part in parts:
            s3_client().delete_object(Bucket=self.bucket, Key=self.key(request_id, part))

    def _presign(self, operation: str, key: str) -> str:
        return s3_client().generate_presigned_url(
            operation, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=URL_SECONDS
        )
