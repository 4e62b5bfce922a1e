"""rules.check_management_api_signature: the local @connections API takes a call only if its
SigV4 signature verifies, as API Gateway's does. boto3's own calls (what the functions make)
pass; an unsigned call, a made-up signature, another secret, an unknown key, a body altered
after signing and a stale X-Amz-Date are refused 403, and nothing reaches the agent's WebSocket.
"""

from __future__ import annotations

import http.client
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from aws_fidelity import rules
from local_gateway import testing
from tests.gateway.websocket_client import open_socket, whoami

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
AMZ_DATE = "%Y%m%dT%H%M%SZ"


def management(
    gateway: testing.GatewayProcess, key: str = "testing", secret: str = "testing"
) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.connections_endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def url_of(endpoint: str, connection_id: str) -> str:
    """The URL botocore calls for a connection: the id percent-encoded in the path."""
    return f"{endpoint}/@connections/{quote(connection_id, safe='')}"


def signed(
    url: str,
    method: str = "POST",
    body: bytes = b"",
    key: str = "testing",
    secret: str = "testing",
    service: str = "execute-api",
    at: datetime | None = None,
) -> AWSRequest:
    """A request signed by botocore's own SigV4 signer (at the moment ``at``, if given)."""
    request = AWSRequest(method=method, url=url, data=body)
    signer = SigV4Auth(Credentials(key, secret), service, "us-east-1")
    if at is None:
        signer.add_auth(request)
    else:
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


def check(request: AWSRequest, body: bytes | None = None, now: datetime = NOW, **options) -> None:
    parts = urlsplit(request.url)
    data = request.body if body is None else body
    rules.check_management_api_signature(
        request.method,
        parts.path,
        parts.query,
        headers_of(request),
        data or b"",
        now=now.timestamp(),
        **options,
    )


def refused(request: AWSRequest, **options: Any) -> rules.Refused:
    with pytest.raises(rules.Refused) as error:
        check(request, **options)
    assert error.value.status == 403
    return error.value


def send(
    method: str, url: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Exactly these headers and body on the wire (no Host or Content-Length of http.client's)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest(method, parts.path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            if name.lower() != "content-length":
                connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        text = response.read()
        return response.status, dict(response.getheaders()), json.loads(text or b"{}")
    finally:
        connection.close()


def only_the_marker_arrives(socket: ClientConnection) -> None:
    """The agent got nothing from the refused calls: the next message is the one it asks for."""
    socket.send(json.dumps({"reply": "marker: nothing else arrived"}))
    assert socket.recv(timeout=10) == "marker: nothing else arrived"


# --- the rule, against botocore's signer -------------------------------------------------------

URL = "http://127.0.0.1:4567/dev/@connections/abc%2B%2F%3D"
BODY = b'{"kind": "request", "id": 1}'


def test_what_botocore_signs_verifies():
    for method, body in (("POST", BODY), ("GET", b""), ("DELETE", b"")):
        check(signed(URL, method, body, at=NOW))
    check(signed(URL, "POST", BODY, at=NOW - timedelta(minutes=5)))  # 5 minutes exactly pass
    check(signed(URL, "POST", BODY, at=NOW + timedelta(minutes=5)))


def test_an_unsigned_call_is_missing_its_token():
    error = refused(AWSRequest(method="POST", url=URL, data=BODY))
    assert (error.code, error.message) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


def test_an_authorization_that_is_not_sigv4_is_incomplete():
    request = AWSRequest(method="POST", url=URL, data=BODY, headers={"Authorization": "Bearer x"})
    error = refused(request)
    assert error.code == "IncompleteSignatureException"
    assert error.message == (
        "Authorization header requires 'Credential' parameter. Authorization header requires "
        "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=Bearer x"
    )


def test_a_credential_for_another_service_is_refused():
    error = refused(signed(URL, "POST", BODY, service="apigateway", at=NOW))
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'execute-api'. ",
    )


def test_a_date_more_than_5_minutes_off_is_refused():
    error = refused(signed(URL, "POST", BODY, at=NOW - timedelta(minutes=10)))
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        "Signature expired: 20260102T025405Z is now earlier than 20260102T025905Z "
        "(20260102T030405Z - 5 min.)",
    )
    error = refused(signed(URL, "POST", BODY, at=NOW + timedelta(minutes=5, seconds=1)))
    assert error.message == (
        "Signature not yet current: 20260102T030906Z is still later than 20260102T030905Z "
        "(20260102T030405Z + 5 min.)"
    )


def test_an_unknown_key_is_an_invalid_security_token():
    error = refused(signed(URL, "POST", BODY, key="AKIAUNKNOWN", at=NOW))
    assert (error.code, error.message) == (
        "AccessDeniedException",
        "The security token included in the request is invalid.",
    )


def test_another_secret_an_edited_body_path_or_date_do_not_match():
    mismatch = "The request signature we calculated does not match the signature you provided."
    for error in (
        refused(signed(URL, "POST", BODY, secret="not-the-secret", at=NOW)),
        refused(signed(URL, "POST", BODY, at=NOW), body=BODY.replace(b"1", b"2")),
        refused(signed(URL, "POST", BODY, at=NOW), body=b""),
    ):
        assert error.code == "InvalidSignatureException"
        assert error.message.startswith(mismatch)
        assert "The Canonical String for this request should have been" in error.message
    other_path = signed(URL.replace("abc", "abd"), "POST", BODY, at=NOW)
    other_path.url = URL
    assert refused(other_path).code == "InvalidSignatureException"
    edited_date = signed(URL, "POST", BODY, at=NOW)
    later = (NOW + timedelta(seconds=1)).strftime(AMZ_DATE)
    edited_date.headers.replace_header("X-Amz-Date", later)
    assert refused(edited_date).code == "InvalidSignatureException"


def test_the_canonical_path_encodes_the_id_twice():
    # What aws/aws-sdk-go-v2#889 shows API Gateway expecting: /<stage>/%40connections/<id %25>.
    error = refused(signed(URL, "POST", BODY, secret="other", at=NOW))
    assert "'POST\n/dev/%40connections/abc%252B%252F%253D\n" in error.message


def test_unsigned_payload_is_not_trusted():
    request = AWSRequest(
        method="POST", url=URL, data=BODY, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    )
    SigV4Auth(Credentials("testing", "testing"), "execute-api", "us-east-1").add_auth(request)
    with pytest.raises(rules.Refused) as error:
        check(request, now=datetime.now(UTC))
    assert error.value.code == "InvalidSignatureException"


# --- through the local gateway ------------------------------------------------------------------


def test_boto3_with_the_emulators_credentials_posts_gets_and_deletes(gateway):
    client = management(gateway)
    with open_socket(gateway, "token=allow") as socket:
        connection_id = whoami(socket)["connectionId"]
        client.post_to_connection(ConnectionId=connection_id, Data=b"signed and delivered")
        assert socket.recv(timeout=10) == "signed and delivered"
        assert client.get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"]
        client.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=10)


def forged(kind: str, url: str, body: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of a POST forged in one way: what goes on the wire."""
    if kind == "unsigned":
        return [("Host", urlsplit(url).netloc)], body
    if kind == "made-up signature":
        headers = headers_of(signed(url, "POST", body))
        return [
            (n, v.rpartition("Signature=")[0] + "Signature=" + "0" * 64)
            if n == "Authorization"
            else (n, v)
            for n, v in headers
        ], body
    if kind == "altered body":
        return headers_of(signed(url, "POST", body)), body.replace(b"hello", b"HACKED")
    if kind == "10 minutes old":
        at = datetime.now(UTC) - timedelta(minutes=10)
        return headers_of(signed(url, "POST", body, at=at)), body
    raise AssertionError(kind)


EXPECTED = {
    "unsigned": ("MissingAuthenticationTokenException", "Missing Authentication Token"),
    "made-up signature": ("InvalidSignatureException", rules.SIGNATURE_MISMATCH),
    "altered body": ("InvalidSignatureException", rules.SIGNATURE_MISMATCH),
    "10 minutes old": ("InvalidSignatureException", "Signature expired: "),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_a_forged_post_is_refused_and_never_delivered(gateway, kind):
    with open_socket(gateway, "token=allow") as socket:
        url = url_of(gateway.connections_endpoint, whoami(socket)["connectionId"])
        headers, body = forged(kind, url, b"hello from a local process")
        status, response_headers, answer = send("POST", url, headers, body)
        code, message = EXPECTED[kind]
        assert status == 403, answer
        assert response_headers["x-amzn-ErrorType"] == code
        assert answer["message"].startswith(message)
        only_the_marker_arrives(socket)


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [
        ("testing", "another-secret", "InvalidSignatureException"),
        ("AKIAOTHERKEY", "testing", "AccessDeniedException"),
    ],
)
def test_other_credentials_can_neither_post_nor_get_nor_delete(gateway, key, secret, code):
    client = management(gateway, key, secret)
    with open_socket(gateway, "token=allow") as socket:
        connection_id = whoami(socket)["connectionId"]
        calls = [
            lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"not delivered"),
            lambda: client.get_connection(ConnectionId=connection_id),
            lambda: client.delete_connection(ConnectionId=connection_id),
        ]
        for call in calls:
            with pytest.raises(ClientError) as error:
                call()
            assert error.value.response["Error"]["Code"] == code
            assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        only_the_marker_arrives(socket)  # not closed either
