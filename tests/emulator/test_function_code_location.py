"""GetFunction's Code.Location downloads the function's deployment package, as on AWS (moto's
URL cannot be fetched): the exact zip, whose base64 SHA-256 is the CodeSha256 GetFunction
reports, after CreateFunction and after UpdateFunctionCode (emulator/function_code.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
import zipfile
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

ROLE_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":'
    '"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def zip_of(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def download(url: str) -> tuple[int, bytes]:
    try:
        with _NO_PROXY.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def error_of(body: bytes) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ElementTree.fromstring(body)}


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
def function(aws: Any, emulator_endpoint: str) -> str:
    role = aws("iam").create_role(
        RoleName=f"code-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=ROLE_POLICY
    )["Role"]["Arn"]
    name = f"code-{uuid.uuid4().hex[:10]}"
    aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zip_of("def handler(event, context):\n    return 1\n")},
    )
    return name


def test_the_location_downloads_the_exact_zip_after_create_and_update(
    aws: Any, function: str, emulator_endpoint: str
) -> None:
    lam = aws("lambda")
    first = lam.get_function(FunctionName=function)
    location = first["Code"]["Location"]
    assert location.startswith(emulator_endpoint), location  # on the emulator, from its Host
    status, data = download(location)
    assert status == 200
    assert sha256_b64(data) == first["Configuration"]["CodeSha256"]
    assert zipfile.ZipFile(io.BytesIO(data)).read("handler.py").endswith(b"return 1\n")

    # Updated from S3, as `make sync` and a launch deliver code.
    bucket = f"code-{uuid.uuid4().hex[:10]}"
    aws("s3").create_bucket(Bucket=bucket)
    newer = zip_of("def handler(event, context):\n    return 2\n")
    aws("s3").put_object(Bucket=bucket, Key="functions/x.zip", Body=newer)
    lam.update_function_code(FunctionName=function, S3Bucket=bucket, S3Key="functions/x.zip")
    second = lam.get_function(FunctionName=function)
    assert second["Configuration"]["CodeSha256"] == sha256_b64(newer)
    status, data = download(second["Code"]["Location"])
    assert status == 200 and data == newer

    # The first URL named code the function no longer has.
    status, body = download(location)
    assert status == 404 and error_of(body)["Code"] == "NoSuchKey"
