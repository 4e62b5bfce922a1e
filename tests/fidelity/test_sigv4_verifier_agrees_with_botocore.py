"""aws_fidelity.sigv4: what botocore signs, the verifier accepts; anything changed after signing
(the key, the method, the expiry, the signature, the secret), it refuses."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from aws_fidelity import sigv4

ENDPOINT = "http://127.0.0.1:4566"
SECRETS = {"testing": "testing"}
KEYS = ["a.txt", "dir/with space/ünï+cøde~x (1).txt", "percent%20literal"]


def s3_client(secret: str = "testing") -> object:
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4"),
    )


def verify(method: str, url: str, **options) -> bool:
    parts = urlsplit(url)
    headers = [("Host", parts.netloc)]
    return sigv4.verify_query(method, parts.path, parts.query, headers, SECRETS.get, **options)


def presigned(method: str, key: str, secret: str = "testing", expires: int = 30) -> str:
    client_method = {"GET": "get_object", "PUT": "put_object"}[method]
    return s3_client(secret).generate_presigned_url(
        client_method, Params={"Bucket": "bucket-one", "Key": key}, ExpiresIn=expires
    )


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_boto3s_presigned_urls_verify(method, key):
    assert verify(method, presigned(method, key))


@pytest.mark.parametrize("key", KEYS)
def test_s3_sigv4_query_auth_verifies(key):
    unsigned = urlsplit(presigned("GET", key))._replace(query="").geturl()
    request = AWSRequest(method="GET", url=unsigned)
    signer = S3SigV4QueryAuth(Credentials("testing", "testing"), "s3", "us-east-1", expires=60)
    signer.add_auth(request)
    assert "X-Amz-Signature=" in request.url
    assert verify("GET", request.url)


def test_another_service_signs_the_normalized_path_and_its_payload():
    # botocore's generic query signer, over plain HTTP, signs the (empty) body's SHA-256.
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/dev/./a//b%20c?x=1&y=a%2Fb")
    SigV4QueryAuth(Credentials("testing", "testing"), "execute-api", "us-east-1").add_auth(request)
    empty = hashlib.sha256(b"").hexdigest()
    assert verify("GET", request.url, payload_hash=empty)
    assert not verify("GET", request.url)  # not UNSIGNED-PAYLOAD


def test_the_header_form_verifies_too():
    body = b'{"hello": "world"}'
    request = AWSRequest(
        method="POST",
        url=f"{ENDPOINT}/dev/@connections/abc%3D?q=1",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials("testing", "testing"), "execute-api", "us-east-1").add_auth(request)
    parts = urlsplit(request.url)
    headers = [("Host", parts.netloc), *request.headers.items()]
    assert sigv4.verify_header("POST", parts.path, parts.query, headers, body, SECRETS.get)
    assert not sigv4.verify_header("POST", parts.path, parts.query, headers, b"{}", SECRETS.get)
    assert not sigv4.verify_header("PUT", parts.path, parts.query, headers, body, SECRETS.get)


def test_what_was_changed_after_signing_does_not_verify():
    url = presigned("GET", "a.txt")
    assert verify("GET", url)
    assert not verify("PUT", url)  # another method
    assert not verify("GET", url.replace("/a.txt?", "/b.txt?"))  # another key
    assert not verify("GET", url.replace("X-Amz-Expires=30", "X-Amz-Expires=3000"))
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    assert not verify("GET", url.replace(signature, signature[::-1]))
    assert not verify("GET", url + "&extra=1")  # a parameter added
    assert not verify("GET", presigned("GET", "a.txt", secret="another secret"))
    parts = urlsplit(url)
    other_host = [("Host", "127.0.0.1:9999")]
    assert not sigv4.verify_query("GET", parts.path, parts.query, other_host, SECRETS.get)


def test_unreadable_parameters_and_unknown_keys():
    url = presigned("GET", "a.txt")
    parts = urlsplit(url)
    with pytest.raises(KeyError):
        sigv4.verify_query("GET", parts.path, parts.query, [("Host", parts.netloc)], {}.get)
    for query in (
        parts.query.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"),
        parts.query.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders="),
        parts.query.replace("%2Fs3%2Faws4_request", "%2Fs3"),
        "&".join(p for p in parts.query.split("&") if not p.startswith("X-Amz-Date=")),
    ):
        with pytest.raises(sigv4.Malformed):
            sigv4.verify_query("GET", parts.path, query, [("Host", parts.netloc)], SECRETS.get)


def test_the_canonical_pieces():
    assert sigv4.uri_encode("a b/c~d_e.f-g+h") == "a%20b%2Fc~d_e.f-g%2Bh"
    assert sigv4.uri_encode("a b/c", encode_slash=False) == "a%20b/c"
    assert sigv4.query_pairs("b=2&a=1&flag&a=0&x=%2F+") == [
        ("b", "2"),
        ("a", "1"),
        ("flag", ""),
        ("a", "0"),
        ("x", "/+"),
    ]
    pairs = sigv4.query_pairs("b=2&a=1&flag&a=0&X-Amz-Signature=s")
    assert sigv4.canonical_query(pairs, leave_out="X-Amz-Signature") == "a=0&a=1&b=2&flag="
    assert sigv4.canonical_headers(
        [("Host", "h"), ("X-Multi", " a   b "), ("x-multi", "c")], ("host", "x-multi")
    ) == ("host:h\nx-multi:a b,c\n")
    assert sigv4.canonical_uri("/a%20b//c/./d", "s3") == "/a%20b//c/./d"
    assert sigv4.canonical_uri("/a%20b//c/./d", "execute-api") == "/a%2520b/c/d"
