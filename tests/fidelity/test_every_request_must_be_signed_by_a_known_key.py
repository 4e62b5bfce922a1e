"""rules.check_request_signature: the emulator serves a request only if it is SigV4-signed by
its credentials, as AWS does (moto's server serves anything). What boto3 and botocore's signers
send passes, S3's payload forms included; an unsigned request, another secret, an unknown key, a
stale date and a body edited after signing are refused with each protocol's own error, which
botocore reads as AWS's."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from aws_fidelity import rules
from emulator import process

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ENDPOINT = "http://127.0.0.1:4566"
NO_MATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
S3_NO_MATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "key and signing method."
)
INVALID_TOKEN = "The security token included in the request is invalid."
SECRETS_MANAGER = {
    "X-Amz-Target": "secretsmanager.GetSecretValue",
    "Content-Type": "application/x-amz-json-1.1",
}
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
LIST_STACKS = b"Action=ListStacks&Version=2010-05-15"


def signed(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    service: str = "s3",
    key: str = "testing",
    secret: str = "testing",
    at: datetime = NOW,
    context: dict[str, Any] | None = None,
) -> AWSRequest:
    """A request signed at ``at`` by botocore's own signer for ``service`` (S3's for s3)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    request.context.update(context or {})
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    signer = signer_class(Credentials(key, secret), service, "us-east-1")
    moment = at.astimezone(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        signer.add_auth(request)
    return request


def headers_of(request: AWSRequest) -> list[tuple[str, str]]:
    """What goes on the wire: the Host botocore signed, then its headers."""
    headers = [("Host", urlsplit(request.url).netloc)]
    for name, value in request.headers.items():
        headers.append((name, value.decode() if isinstance(value, bytes) else str(value)))
    return headers


def check(request: AWSRequest, body: bytes | None = None, at: datetime = NOW) -> None:
    parts = urlsplit(request.url)
    data = request.body if body is None else body
    rules.check_request_signature(
        request.method,
        parts.path,
        parts.query,
        headers_of(request),
        data or b"",
        now=at.timestamp(),
    )


def refused(request: AWSRequest, body: bytes | None = None, at: datetime = NOW) -> rules.Refused:
    with pytest.raises(rules.Refused) as error:
        check(request, body, at)
    return error.value


def unsigned(method: str, url: str, body: bytes = b"", **headers: str) -> AWSRequest:
    return AWSRequest(method=method, url=url, data=body, headers=headers)


# --- the rule, against botocore's signers ------------------------------------------------------


def test_s3_as_botocore_signs_it_verifies():
    url = f"{ENDPOINT}/bucket-one/dir/with%20space/a%2Bb.txt?x-id=PutObject"
    check(signed("PUT", url, b"hello"))  # over http: the body's SHA-256
    check(signed("GET", f"{ENDPOINT}/bucket-one?list-type=2&prefix=a%20b"))
    unsigned_payload = {"client_config": Config(s3={"payload_signing_enabled": False})}
    request = signed("PUT", url, b"hello", context=unsigned_payload)
    assert request.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    check(request)
    check(request, body=b"anything")  # an unsigned payload is not hashed
    trailer = {"checksum": {"request_algorithm": {"in": "trailer", "name": "x-amz-checksum-crc32"}}}
    request = signed("PUT", url, b"5\r\nhello\r\n0\r\n", context=trailer)
    assert request.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    check(request)  # the seed signature, over the headers
    # An aws-chunked upload's seed signature (botocore's S3 signer makes none: its generic one
    # signs the header's value as it is).
    seed = {"X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}
    request = AWSRequest(method="PUT", url=f"{ENDPOINT}/bucket-one/a.txt", data=b"chunks")
    request.headers["X-Amz-Content-SHA256"] = seed["X-Amz-Content-SHA256"]
    signer = SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1")
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        signer.add_auth(request)
    check(request)
    request.headers.replace_header("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")
    assert refused(request).code == "SignatureDoesNotMatch"  # signed as another payload hash
    check(signed("PUT", url, b"ok", at=NOW - timedelta(minutes=15)))  # S3: 15 minutes pass


def test_s3_refusals():
    url = f"{ENDPOINT}/bucket-one/a.txt"
    anonymous = refused(unsigned("GET", url))
    assert (anonymous.code, anonymous.message, anonymous.status) == (
        "AccessDenied",
        "Access Denied",
        403,
    )
    sigv2 = refused(unsigned("GET", url, Authorization="AWS testing:c2lnbmF0dXJl"))
    assert (sigv2.code, sigv2.message, sigv2.status) == ("InvalidRequest", rules.S3_NOT_SIGV4, 400)
    sigv2_url = refused(unsigned("GET", f"{url}?AWSAccessKeyId=testing&Signature=x&Expires=9"))
    assert (sigv2_url.code, sigv2_url.status) == ("InvalidRequest", 400)
    request = signed("PUT", url, b"hello")
    del request.headers["X-Amz-Content-SHA256"]
    missing = refused(request)
    assert (missing.code, missing.message, missing.status) == (
        "InvalidRequest",
        "Missing required header for this request: x-amz-content-sha256",
        400,
    )
    request = signed("PUT", url, b"hello")
    request.headers.replace_header("X-Amz-Content-SHA256", "tjnVEQ5UTP/DL91eAGOmew==")
    invalid = refused(request)
    assert (invalid.code, invalid.status) == ("InvalidArgument", 400)
    assert invalid.message == (
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a "
        "valid sha256 value."
    )
    skewed = refused(signed("PUT", url, b"hello", at=NOW - timedelta(minutes=15, seconds=1)))
    assert (skewed.code, skewed.status) == ("RequestTimeTooSkewed", 403)
    assert skewed.message == (
        "The difference between the request time and the current time is too large."
    )
    assert skewed.details["MaxAllowedSkewMilliseconds"] == "900000"
    unknown = refused(signed("PUT", url, b"hello", key="AKIAEXAMPLE"))
    assert (unknown.code, unknown.status) == ("InvalidAccessKeyId", 403)
    assert unknown.details["AWSAccessKeyId"] == "AKIAEXAMPLE"
    other = refused(signed("PUT", url, b"hello", secret="not the secret"))
    assert (other.code, other.message, other.status) == ("SignatureDoesNotMatch", S3_NO_MATCH, 403)
    assert other.details["CanonicalRequest"].startswith("PUT\n/bucket-one/a.txt\n")
    edited = refused(signed("PUT", url, b"hello"), body=b"hellO")
    assert (edited.code, edited.status) == ("XAmzContentSHA256Mismatch", 400)
    assert edited.message == (
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )
    assert edited.details["S3ComputedContentSHA256"] == hashlib.sha256(b"hellO").hexdigest()
    moved = signed("GET", url)
    moved.url = moved.url.replace("/a.txt", "/b.txt")
    assert refused(moved).code == "SignatureDoesNotMatch"


def test_the_query_protocol():
    request = signed("POST", f"{ENDPOINT}/", LIST_STACKS, FORM, service="cloudformation")
    check(request)
    check(signed("POST", f"{ENDPOINT}/?Action=ListStacks", service="cloudformation"))
    missing = refused(unsigned("POST", f"{ENDPOINT}/", LIST_STACKS, **FORM))
    assert (missing.code, missing.message, missing.status) == (
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
        403,
    )
    other = refused(signed("POST", f"{ENDPOINT}/", LIST_STACKS, FORM, "cloudformation", secret="x"))
    assert (other.code, other.status) == ("SignatureDoesNotMatch", 403)
    assert other.message.startswith(NO_MATCH + "\n\nThe Canonical String for this request")
    unknown = refused(signed("POST", f"{ENDPOINT}/", LIST_STACKS, FORM, "iam", key="AKIAX"))
    assert (unknown.code, unknown.message, unknown.status) == (
        "InvalidClientTokenId",
        INVALID_TOKEN,
        403,
    )
    edited = refused(request, body=b"Action=DeleteStack&StackName=dev&Version=2010-05-15")
    assert edited.code == "SignatureDoesNotMatch"
    stale = signed("POST", f"{ENDPOINT}/", LIST_STACKS, FORM, "sts", at=NOW - timedelta(minutes=6))
    expired = refused(stale)
    assert (expired.code, expired.status) == ("SignatureDoesNotMatch", 403)
    assert expired.message == (
        "Signature expired: 20260102T025805Z is now earlier than 20260102T025905Z "
        "(20260102T030405Z - 5 min.)"
    )


def test_the_json_protocols():
    body = json.dumps({"SecretId": "signing"}).encode()
    request = signed("POST", f"{ENDPOINT}/", body, SECRETS_MANAGER, "secretsmanager")
    check(request)
    missing = refused(unsigned("POST", f"{ENDPOINT}/", body, **SECRETS_MANAGER))
    assert (missing.code, missing.message, missing.status) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
        400,
    )
    edited = refused(request, body=json.dumps({"SecretId": "other"}).encode())
    assert (edited.code, edited.status) == ("InvalidSignatureException", 400)
    unknown = refused(signed("POST", f"{ENDPOINT}/", body, SECRETS_MANAGER, "dynamodb", "AKIAX"))
    assert (unknown.code, unknown.message, unknown.status) == (
        "UnrecognizedClientException",
        INVALID_TOKEN,
        400,
    )
    partial = unsigned("POST", f"{ENDPOINT}/", body, Authorization="AWS4-HMAC-SHA256 x=y")
    for name, value in SECRETS_MANAGER.items():
        partial.headers[name] = value
    incomplete = refused(partial)
    assert (incomplete.code, incomplete.status) == ("IncompleteSignatureException", 400)
    assert incomplete.message.startswith("Authorization header requires 'Credential' parameter.")
    ahead = signed(
        "POST", f"{ENDPOINT}/", body, SECRETS_MANAGER, "kms", at=NOW + timedelta(minutes=6)
    )
    assert refused(ahead).message.startswith("Signature not yet current: ")
    # Lambda, API Gateway: REST-JSON, 403.
    url = f"{ENDPOINT}/2015-03-31/functions/tunnel-dev-connect/code"
    check(signed("PUT", url, b'{"ZipFile": ""}', service="lambda"))
    other = refused(signed("PUT", url, b'{"ZipFile": ""}', service="lambda", secret="x"))
    assert (other.code, other.status) == ("InvalidSignatureException", 403)
    # A header that claims another payload hash is not trusted outside S3.
    request = signed("PUT", url, b"{}", {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}, "lambda")
    assert refused(request).code == "InvalidSignatureException"


def test_presigned_requests_to_other_services():
    url = f"{ENDPOINT}/?Action=GetCallerIdentity&Version=2011-06-15"
    request = AWSRequest(method="GET", url=url)
    signer = SigV4QueryAuth(Credentials("testing", "testing"), "sts", "us-east-1", expires=60)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        signer.add_auth(request)
    check(request)
    check(request, at=NOW + timedelta(seconds=60 + 15 * 60))  # the documented grace
    late = refused(request, at=NOW + timedelta(seconds=60 + 15 * 60 + 1))
    assert (late.code, late.status) == ("RequestExpired", 400)
    request.url = request.url.replace("GetCallerIdentity", "GetSessionToken")
    assert refused(request).code == "SignatureDoesNotMatch"


# --- on the emulator ---------------------------------------------------------------------------


def client(endpoint: str, service: str, key: str = "testing", secret: str = "testing") -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def send(
    endpoint: str,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request to the emulator, with these headers (a Host among them replaces
    http.client's)."""
    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def error_code(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response["Error"]["Code"], error.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


def test_boto3_passes_and_botocore_reads_each_refusal(emulator_endpoint):
    name = f"signed-{uuid.uuid4().hex[:8]}"
    s3 = client(emulator_endpoint, "s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="small", Body=b"hello")
    big = os.urandom(9 * 1024 * 1024)  # over 8 MB: a multipart upload, parts signed one by one
    s3.upload_fileobj(io.BytesIO(big), name, "big")
    assert s3.get_object(Bucket=name, Key="big")["Body"].read() == big
    secrets = client(emulator_endpoint, "secretsmanager")
    secrets.create_secret(Name=name, SecretString="the signing secret")
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == "the signing secret"
    client(emulator_endpoint, "cloudformation").list_stacks()
    client(emulator_endpoint, "lambda").list_functions()

    other = "not the secret"
    assert error_code(lambda: client(emulator_endpoint, "s3", secret=other).list_buckets()) == (
        "SignatureDoesNotMatch",
        403,
    )
    stranger = client(emulator_endpoint, "s3", key="AKIAEXAMPLE")
    assert error_code(lambda: stranger.get_object(Bucket=name, Key="small")) == (
        "InvalidAccessKeyId",
        403,
    )
    assert error_code(
        lambda: client(emulator_endpoint, "secretsmanager", secret=other).get_secret_value(
            SecretId=name
        )
    ) == ("InvalidSignatureException", 400)
    assert error_code(
        lambda: client(emulator_endpoint, "cloudformation", key="AKIAEXAMPLE").list_stacks()
    ) == ("InvalidClientTokenId", 403)
    assert error_code(
        lambda: client(emulator_endpoint, "lambda", secret=other).list_functions()
    ) == ("InvalidSignatureException", 403)


def test_unsigned_requests_get_nothing(emulator_endpoint):
    name = f"unsigned-{uuid.uuid4().hex[:8]}"
    s3 = client(emulator_endpoint, "s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="a.txt", Body=b"private")
    secrets = client(emulator_endpoint, "secretsmanager")
    secrets.create_secret(Name=name, SecretString="the signing secret")

    status, headers, body = send(emulator_endpoint, "GET", f"/{name}/a.txt")
    assert (status, headers["Content-Type"]) == (403, "application/xml")
    assert b"<Code>AccessDenied</Code>" in body and b"private" not in body
    status, _, _ = send(emulator_endpoint, "PUT", f"/{name}/a.txt", b"overwritten")
    assert status == 403
    assert s3.get_object(Bucket=name, Key="a.txt")["Body"].read() == b"private"

    request = json.dumps({"SecretId": name}).encode()
    status, headers, body = send(emulator_endpoint, "POST", "/", request, SECRETS_MANAGER)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "MissingAuthenticationTokenException")
    assert json.loads(body) == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Missing Authentication Token",
    }
    status, _, body = send(emulator_endpoint, "POST", "/", LIST_STACKS, FORM)
    assert status == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in body


def test_motos_own_api_needs_a_signature_but_the_readiness_probe(fresh_account):
    """moto's state dump and reset are refused unsigned (the dump holds every secret); its
    readiness probe, GET /moto-api/config (moto's settings), is served to anyone."""
    endpoint = fresh_account.url
    secrets = fresh_account.client("secretsmanager")
    secrets.create_secret(Name="signing", SecretString="the signing secret")
    status, _, body = send(endpoint, "GET", "/moto-api/data.json")
    assert status == 403 and b"the signing secret" not in body
    assert send(endpoint, "POST", "/moto-api/reset")[0] == 403
    assert send(endpoint, "POST", "/moto-api/config", b'{"batch": {}}')[0] == 403
    assert secrets.get_secret_value(SecretId="signing")["SecretString"] == "the signing secret"
    status, headers, _ = send(endpoint, "GET", "/moto-api/config")
    assert status < 300 and headers[process.PID_HEADER]  # moto answers 201
    assert process.serving_pid(endpoint) is not None
    dump = signed("GET", f"{endpoint}/moto-api/data.json", at=datetime.now(UTC))
    status, _, body = send(endpoint, "GET", "/moto-api/data.json", b"", headers_of(dump))
    assert status == 200 and b"the signing secret" in body


def test_a_request_signed_too_long_ago_is_refused(emulator_endpoint):
    stale = signed(
        "POST",
        f"{emulator_endpoint}/",
        json.dumps({"SecretId": "x"}).encode(),
        SECRETS_MANAGER,
        "secretsmanager",
        at=datetime.now(UTC) - timedelta(minutes=6),
    )
    status, headers, body = send(emulator_endpoint, "POST", "/", stale.body, headers_of(stale))
    assert (status, headers["x-amzn-ErrorType"]) == (400, "InvalidSignatureException")
    assert json.loads(body)["message"].startswith("Signature expired: ")
