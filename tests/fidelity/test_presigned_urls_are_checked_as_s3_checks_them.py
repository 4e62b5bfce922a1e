"""rules.check_presigned_request: the emulator serves a presigned S3 URL only for its object, its
method, its secret and its lifetime, as S3 does (moto serves any). Header-signed calls pass."""

from __future__ import annotations

import datetime
import http.client
import uuid
import xml.etree.ElementTree as ElementTree
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from aws_fidelity import rules

SECRETS = {"testing": "testing"}
NO_MATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "key and signing method."
)


def s3(endpoint: str, secret: str = "testing") -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4"),
    )


@pytest.fixture
def bucket(emulator_endpoint: str) -> str:
    name = f"presigned-{uuid.uuid4().hex[:10]}"
    s3(emulator_endpoint).create_bucket(Bucket=name)
    return name


def presigned(endpoint: str, method: str, bucket: str, key: str, **options: Any) -> str:
    """What the tunnel will hand the agent: a URL for one object and one method."""
    secret = options.pop("secret", "testing")
    client_method = {"GET": "get_object", "PUT": "put_object"}[method]
    return s3(endpoint, secret).generate_presigned_url(
        client_method, Params={"Bucket": bucket, "Key": key}, ExpiresIn=30, **options
    )


def signed_by_botocore(
    url: str,
    expires: int = 30,
    at: datetime.datetime | None = None,
    key_id: str = "testing",
) -> str:
    """``url`` presigned by botocore's S3 signer, as of ``at`` (default now)."""
    request = AWSRequest(method="GET", url=url)
    signer = S3SigV4QueryAuth(Credentials(key_id, "testing"), "s3", "us-east-1", expires=expires)
    if at is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            signer.add_auth(request)
    return request.url


def send(method: str, url: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request to the emulator on 127.0.0.1, the URL's target as it is."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=10)
    try:
        connection.request(method, f"{parts.path}?{parts.query}", body=body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def s3_error(answer: tuple[int, dict[str, str], bytes]) -> tuple[int, str, str]:
    status, headers, body = answer
    assert headers["Content-Type"] == "application/xml", headers
    error = ElementTree.fromstring(body)
    assert error.tag == "Error"
    return status, error.findtext("Code") or "", error.findtext("Message") or ""


def refusal(url: str, method: str = "GET", now: float | None = None) -> rules.Refused:
    parts = urlsplit(url)
    with pytest.raises(rules.Refused) as refused:
        rules.check_presigned_request(
            method, parts.path, parts.query, [("Host", parts.netloc)], SECRETS, now
        )
    return refused.value


def test_the_rule():
    endpoint = "http://127.0.0.1:4566"
    url = presigned(endpoint, "GET", "bucket-one", "a.txt")
    parts = urlsplit(url)
    amz_date = dict(parse_qsl(parts.query))["X-Amz-Date"]
    signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    signed_at = signed_at.timestamp()
    rules.check_presigned_request("GET", parts.path, parts.query, [("Host", parts.netloc)], SECRETS)
    refused = refusal(url, "PUT")
    assert (refused.code, refused.message, refused.status) == (
        "SignatureDoesNotMatch",
        NO_MATCH,
        403,
    )
    assert refusal(url.replace("/a.txt?", "/b.txt?")).code == "SignatureDoesNotMatch"
    # Its last second still serves; the next one does not.
    rules.check_presigned_request(
        "GET", parts.path, parts.query, [("Host", parts.netloc)], SECRETS, signed_at + 30
    )
    expired = refusal(url, now=signed_at + 30.5)
    assert (expired.code, expired.message, expired.status) == (
        "AccessDenied",
        "Request has expired",
        403,
    )
    assert set(expired.details) == {"X-Amz-Expires", "Expires", "ServerTime"}
    assert expired.details["X-Amz-Expires"] == "30"
    week = refusal(signed_by_botocore(f"{endpoint}/bucket-one/a.txt", expires=604801))
    assert (week.code, week.status) == ("AuthorizationQueryParametersError", 400)
    assert week.message == (
        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires "
        "must be less than 604800 seconds"
    )
    signed_by_botocore(f"{endpoint}/bucket-one/a.txt", expires=604800)  # a week exactly: fine
    unknown = refusal(signed_by_botocore(f"{endpoint}/bucket-one/a.txt", key_id="AKIAEXAMPLE"))
    assert (unknown.code, unknown.message, unknown.status) == (
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
        403,
    )
    stripped = url.replace("X-Amz-Expires=30&", "")
    assert refusal(stripped).code == "AuthorizationQueryParametersError"


def test_the_put_url_uploads_and_the_get_url_downloads(emulator_endpoint, bucket):
    key = "tunnel/req 1/body.bin"
    put = presigned(emulator_endpoint, "PUT", bucket, key)
    get = presigned(emulator_endpoint, "GET", bucket, key)
    assert send("PUT", put, b"the request body")[0] == 200
    status, _, body = send("GET", get)
    assert (status, body) == (200, b"the request body")
    # Usable more than once until it expires, as S3's are.
    assert send("GET", get)[2] == b"the request body"


def test_a_get_url_for_one_key_does_not_reach_another(emulator_endpoint, bucket):
    client = s3(emulator_endpoint)
    client.put_object(Bucket=bucket, Key="a", Body=b"A")
    client.put_object(Bucket=bucket, Key="b", Body=b"B secret")
    url = presigned(emulator_endpoint, "GET", bucket, "a")
    assert send("GET", url)[2] == b"A"
    other = url.replace(f"/{bucket}/a?", f"/{bucket}/b?")
    assert s3_error(send("GET", other)) == (403, "SignatureDoesNotMatch", NO_MATCH)


def test_a_put_url_does_not_get_and_a_get_url_does_not_put(emulator_endpoint, bucket):
    s3(emulator_endpoint).put_object(Bucket=bucket, Key="k", Body=b"original")
    put = presigned(emulator_endpoint, "PUT", bucket, "k")
    get = presigned(emulator_endpoint, "GET", bucket, "k")
    assert s3_error(send("GET", put)) == (403, "SignatureDoesNotMatch", NO_MATCH)
    assert s3_error(send("PUT", get, b"overwritten")) == (403, "SignatureDoesNotMatch", NO_MATCH)
    assert send("GET", get)[2] == b"original"


def test_an_expired_url_is_refused(emulator_endpoint, bucket):
    s3(emulator_endpoint).put_object(Bucket=bucket, Key="k", Body=b"x")
    a_minute_ago = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(
        seconds=60
    )
    url = signed_by_botocore(f"{emulator_endpoint}/{bucket}/k", expires=1, at=a_minute_ago)
    answer = send("GET", url)
    assert s3_error(answer) == (403, "AccessDenied", "Request has expired")
    error = ElementTree.fromstring(answer[2])
    assert error.findtext("X-Amz-Expires") == "1"
    fresh = signed_by_botocore(f"{emulator_endpoint}/{bucket}/k", expires=120, at=a_minute_ago)
    assert send("GET", fresh)[:3:2] == (200, b"x")


def test_a_url_signed_with_another_secret_or_key_is_refused(emulator_endpoint, bucket):
    s3(emulator_endpoint).put_object(Bucket=bucket, Key="k", Body=b"x")
    other_secret = presigned(emulator_endpoint, "GET", bucket, "k", secret="not the secret")
    assert s3_error(send("GET", other_secret)) == (403, "SignatureDoesNotMatch", NO_MATCH)
    other_key = signed_by_botocore(f"{emulator_endpoint}/{bucket}/k", key_id="AKIAEXAMPLE")
    assert s3_error(send("GET", other_key)) == (
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
    )


def test_a_refused_put_stores_nothing(emulator_endpoint, bucket):
    put = presigned(emulator_endpoint, "PUT", bucket, "k", secret="not the secret")
    assert send("PUT", put, b"x" * 100_000)[0] == 403
    client = s3(emulator_endpoint)
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_url_valid_for_over_a_week_is_refused(emulator_endpoint, bucket):
    url = signed_by_botocore(f"{emulator_endpoint}/{bucket}/{quote('k')}", expires=604801)
    status, code, _ = s3_error(send("GET", url))
    assert (status, code) == (400, "AuthorizationQueryParametersError")


def test_header_signed_calls_pass_untouched(emulator_endpoint, bucket):
    client = s3(emulator_endpoint)
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    # Header signatures are verified too (rules.check_request_signature): a wrong secret fails.
    with pytest.raises(s3(emulator_endpoint).exceptions.ClientError) as refused:
        s3(emulator_endpoint, "wrong").get_object(Bucket=bucket, Key="k")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
