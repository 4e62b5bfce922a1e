"""rules.check_post_policy: the emulator stores an S3 POST (form) upload only if its signed
policy allows it, as S3 does (moto stores any): the key's prefix, the size, the signature, the
expiry, and no field the policy does not name. The agent's own upload_part is the client."""

from __future__ import annotations

import http.client
import uuid
import xml.etree.ElementTree as ElementTree
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from tunnel_shared.protocol import PartsUpload

from aws_fidelity import rules
from tunnel_cli.bodies import TransferError, upload_part

SECRETS = {"testing": "testing"}
LIMIT = 1024


def s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4"),
    )


@pytest.fixture
def bucket(emulator_endpoint: str) -> str:
    name = f"post-{uuid.uuid4().hex[:10]}"
    s3(emulator_endpoint).create_bucket(Bucket=name)
    return name


def parts_upload(endpoint: str, bucket: str, prefix: str = "spill/r1/part-") -> PartsUpload:
    """What forwarding hands the agent (tunnel_shared.bodies.BodyStore.parts_upload)."""
    post = s3(endpoint).generate_presigned_post(
        bucket,
        prefix + "${filename}",
        Conditions=[["content-length-range", 1, LIMIT]],
        ExpiresIn=60,
    )
    return PartsUpload(post["url"], {k: str(v) for k, v in post["fields"].items()})


def form(fields: dict[str, str], data: bytes) -> tuple[str, bytes]:
    boundary = "b0undary"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n'
    ).encode()
    return (
        f"multipart/form-data; boundary={boundary}",
        body + data + f"\r\n--{boundary}--\r\n".encode(),
    )


def post(url: str, fields: dict[str, str], data: bytes) -> tuple[int, str, str]:
    content_type, body = form(fields, data)
    parts = urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("POST", parts.path, body=body, headers={"Content-Type": content_type})
        answer = connection.getresponse()
        text = answer.read()
    finally:
        connection.close()
    if not text:
        return answer.status, "", ""
    error = ElementTree.fromstring(text)
    return answer.status, error.findtext("Code") or "", error.findtext("Message") or ""


def stored(endpoint: str, bucket: str, key: str) -> bytes | None:
    try:
        return s3(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3(endpoint).exceptions.NoSuchKey:
        return None


def test_a_part_within_the_policy_is_stored(emulator_endpoint: str, bucket: str) -> None:
    upload = parts_upload(emulator_endpoint, bucket)
    upload_part(upload, 7, b"\r\n--part seven\r\n", timeout=10)
    assert stored(emulator_endpoint, bucket, "spill/r1/part-7") == b"\r\n--part seven\r\n"


def test_a_key_outside_the_prefix_is_refused(emulator_endpoint: str, bucket: str) -> None:
    upload = parts_upload(emulator_endpoint, bucket)
    fields = {**upload.fields, "key": "spill/other-request/part-0"}
    status, code, message = post(upload.url, fields, b"x")
    assert (status, code) == (403, "AccessDenied")
    assert message == (
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", '
        '"spill/r1/part-"]'
    )
    assert stored(emulator_endpoint, bucket, "spill/other-request/part-0") is None


def test_sizes_outside_the_range_are_refused(emulator_endpoint: str, bucket: str) -> None:
    upload = parts_upload(emulator_endpoint, bucket)
    with pytest.raises(TransferError, match=r"EntityTooLarge"):
        upload_part(upload, 0, bytes(LIMIT + 1), timeout=10)
    status, code, _ = post(upload.url, {**upload.fields, "key": upload.key(1)}, b"")
    assert (status, code) == (400, "EntityTooSmall")
    assert stored(emulator_endpoint, bucket, upload.key(0)) is None


def test_an_edited_policy_or_an_extra_field_is_refused(emulator_endpoint: str, bucket: str) -> None:
    upload = parts_upload(emulator_endpoint, bucket)
    other = parts_upload(emulator_endpoint, bucket, prefix="spill/")
    # Another policy (a wider prefix) with this one's signature.
    edited = {**upload.fields, "policy": other.fields["policy"], "key": "spill/x"}
    assert post(upload.url, edited, b"x")[:2] == (403, "SignatureDoesNotMatch")
    extra = {**upload.fields, "key": upload.key(2), "acl": "public-read"}
    assert post(upload.url, extra, b"x") == (
        403,
        "AccessDenied",
        "Invalid according to Policy: Extra input fields: acl",
    )
    ignored = {**upload.fields, "key": upload.key(3), "x-ignore-note": "anything"}
    assert post(upload.url, ignored, b"x")[0] == 204


def test_an_expired_policy_is_refused() -> None:
    upload = parts_upload("http://127.0.0.1:4566", "bucket-one")
    fields = {**upload.fields, "key": upload.key(0)}
    rules.check_post_policy("bucket-one", fields, 1, SECRETS)
    with pytest.raises(rules.Refused) as refused:
        rules.check_post_policy("bucket-one", fields, 1, SECRETS, now=2**40)
    assert (refused.value.code, refused.value.status) == ("AccessDenied", 403)
    assert refused.value.message == "Invalid according to Policy: Policy expired."
    with pytest.raises(rules.Refused) as wrong_bucket:
        rules.check_post_policy("bucket-two", fields, 1, SECRETS)
    assert "Policy Condition failed" in wrong_bucket.value.message
