"""The emulator refuses web pages and foreign Host names (emulator/browser_guard.py,
aws_fidelity/browser_guard.py), before moto sees the request: a request with an ``Origin`` or a
``Sec-Fetch-*`` header, a CORS preflight included, or a Host that is not loopback (DNS
rebinding) gets 403, one line, and no ``Access-Control-*`` header; nothing it asked for
happens. No answer carries moto's CORS headers. Not AWS behaviour (AWS has secret keys): the
local stack's own safety, as LocalStack's ``is_cors_origin_allowed``.
"""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from aws_fidelity import browser_guard
from emulator.browser_guard import with_browser_guard

SECRETS_MANAGER = {
    "X-Amz-Target": "secretsmanager.GetSecretValue",
    "Content-Type": "application/x-amz-json-1.1",
}


def signed(
    method: str, url: str, body: bytes = b"", service: str = "s3", **headers: str
) -> list[tuple[str, str]]:
    """The headers of a request botocore signed, its Host first: a valid signature, so that
    only the guard can refuse it."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    signer_class = S3SigV4Auth if service == "s3" else SigV4Auth
    signer_class(Credentials("testing", "testing"), service, "us-east-1").add_auth(request)
    pairs = [("Host", urlsplit(url).netloc)]
    for name, value in request.headers.items():
        pairs.append((name, value.decode() if isinstance(value, bytes) else str(value)))
    return pairs


def send(
    endpoint: str, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """Exactly these headers (Host included) to the emulator on 127.0.0.1."""
    port = urlsplit(endpoint).port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body or method in ("POST", "PUT"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def no_cors(headers: dict[str, str]) -> bool:
    return not any(name.lower().startswith("access-control-") for name in headers)


@pytest.fixture
def bucket(aws: Any) -> str:
    name = f"guard-{uuid.uuid4().hex[:10]}"
    aws("s3").create_bucket(Bucket=name)
    aws("s3").put_object(Bucket=name, Key="a.txt", Body=b"before")
    return name


# --- who is a web page, which host is loopback ----------------------------------------------


def test_the_decisions():
    who = "the local AWS"
    assert browser_guard.refusal([("Host", "127.0.0.1:4566")], who) is None
    for host in (
        "localhost:4566",
        "[::1]:4566",
        "bucket.s3.localhost:4566",
        "127.0.0.2",
        "LOCALHOST.",
    ):
        assert browser_guard.refusal([("Host", host)], who) is None, host
    assert browser_guard.refusal([("Host", "evil.example:4566")], who) == (
        "the local AWS answers only on a loopback name, not 'evil.example' (DNS-rebinding guard)"
    )
    for host in ("localhost.evil.example", "127.0.0.1.nip.io", "10.0.0.1", "[::ffff:8.8.8.8]"):
        assert browser_guard.refusal([("Host", host)], who) is not None, host
    assert browser_guard.refusal([], who) == "the local AWS needs a Host header"
    page = [("Host", "127.0.0.1:4566"), ("Origin", "null")]
    assert browser_guard.refusal(page, who) == (
        "the local AWS refuses requests from web pages (Origin header)"
    )
    fetch = [("host", "127.0.0.1"), ("sec-fetch-mode", "no-cors")]
    assert browser_guard.refusal(fetch, who) == (
        "the local AWS refuses requests from web pages (Sec-Fetch-Mode header)"
    )
    assert browser_guard.is_cors_header("Access-Control-Allow-Origin")
    assert not browser_guard.is_cors_header("Content-Type")


def test_no_answer_carries_cors_headers_and_a_page_never_reaches_the_app():
    reached = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        reached.append(environ["PATH_INFO"])
        start_response(
            "200 OK",
            [("Access-Control-Allow-Origin", "*"), ("access-control-expose-headers", "ETag")],
        )
        return [b"moto"]

    guarded = with_browser_guard(app)
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/moto-api/config", "HTTP_HOST": "localhost"}
    assert guarded(dict(environ), start_response) == [b"moto"]  # the readiness probe
    assert started[-1] == ("200 OK", [])
    preflight = {
        **environ,
        "REQUEST_METHOD": "OPTIONS",
        "HTTP_ORIGIN": "http://127.0.0.1:8000",
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
    }
    body = guarded(preflight, start_response)
    assert body == [b"the local AWS refuses requests from web pages (Origin header)\n"]
    assert started[-1][0] == "403 Forbidden"
    assert no_cors(dict(started[-1][1]))
    assert reached == ["/moto-api/config"]


# --- on the emulator -------------------------------------------------------------------------


def test_a_page_cannot_read_a_secret_or_write_an_object(emulator_endpoint, aws, bucket):
    name = f"guarded-{uuid.uuid4().hex[:8]}"
    aws("secretsmanager").create_secret(Name=name, SecretString="the signing secret")
    body = json.dumps({"SecretId": name}).encode()
    get_secret = signed("POST", f"{emulator_endpoint}/", body, "secretsmanager", **SECRETS_MANAGER)
    assert send(emulator_endpoint, "POST", "/", get_secret, body)[0] == 200  # as signed: served
    for page in (("Origin", "http://127.0.0.1:8000"), ("Origin", "null")):
        status, headers, answer = send(emulator_endpoint, "POST", "/", [*get_secret, page], body)
        assert (status, headers["Content-Type"]) == (403, "text/plain")
        assert answer == b"the local AWS refuses requests from web pages (Origin header)\n"
        assert no_cors(headers)
    put = signed("PUT", f"{emulator_endpoint}/{bucket}/a.txt", b"after")
    for page in (("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "no-cors")):
        status, headers, _ = send(
            emulator_endpoint, "PUT", f"/{bucket}/a.txt", [*put, page], b"after"
        )
        assert status == 403 and no_cors(headers)
    assert aws("s3").get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"before"


def test_a_cors_preflight_is_refused_before_moto_answers_it(emulator_endpoint, bucket):
    preflight = [
        ("Host", urlsplit(emulator_endpoint).netloc),
        ("Origin", "http://evil.example"),
        ("Access-Control-Request-Method", "PUT"),
        ("Access-Control-Request-Headers", "authorization,x-amz-date,x-amz-content-sha256"),
    ]
    for target in ("/", f"/{bucket}/a.txt", "/moto-api/config"):
        status, headers, body = send(emulator_endpoint, "OPTIONS", target, preflight)
        assert (status, body) == (
            403,
            b"the local AWS refuses requests from web pages (Origin header)\n",
        )
        assert no_cors(headers), headers


def test_a_rebound_name_is_refused_and_loopback_names_are_served(emulator_endpoint, aws):
    port = urlsplit(emulator_endpoint).port
    name = f"rebound-{uuid.uuid4().hex[:8]}"
    aws("secretsmanager").create_secret(Name=name, SecretString="the signing secret")
    body = json.dumps({"SecretId": name}).encode()
    rebound = f"http://attacker.example:{port}/"
    request = signed("POST", rebound, body, "secretsmanager", **SECRETS_MANAGER)  # signed as sent
    status, headers, answer = send(emulator_endpoint, "POST", "/", request, body)
    assert status == 403 and no_cors(headers)
    assert answer == (
        b"the local AWS answers only on a loopback name, not 'attacker.example' "
        b"(DNS-rebinding guard)\n"
    )
    for host in (f"localhost:{port}", f"[::1]:{port}", f"sm.localhost:{port}"):
        request = signed("POST", f"http://{host}/", body, "secretsmanager", **SECRETS_MANAGER)
        status, _, answer = send(emulator_endpoint, "POST", "/", request, body)
        assert status == 200 and json.loads(answer)["SecretString"] == "the signing secret", host
    by_name = boto3.client(
        "secretsmanager",
        endpoint_url=f"http://localhost:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert by_name.get_secret_value(SecretId=name)["SecretString"] == "the signing secret"


def test_boto3_sends_nothing_a_page_would(emulator_endpoint, aws, bucket):
    """The guard refuses no legitimate client: boto3's requests carry no Origin and no
    Sec-Fetch-*, over every protocol the project uses."""
    seen: list[list[str]] = []

    def record(request: Any, **_: Any) -> None:
        seen.append([name.lower() for name in request.headers])

    session = boto3.session.Session()
    s3 = session.client("s3")
    s3.meta.events.register("before-send", record)
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"x" * 100)
    secrets = session.client("secretsmanager")
    secrets.meta.events.register("before-send", record)
    with pytest.raises(ClientError):
        secrets.get_secret_value(SecretId="no-such-secret")
    assert seen and not any("origin" in names for names in seen)
    assert not any(name.startswith("sec-fetch-") for names in seen for name in names)
