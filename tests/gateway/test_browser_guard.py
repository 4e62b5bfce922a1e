"""The local gateway's control paths refuse web pages and foreign hosts (local_gateway/
browser_guard.py): a WebSocket handshake or an @connections call with an ``Origin`` or a
``Sec-Fetch-*`` header, or on a bare host that is not loopback, gets 403 and one line, without
``Access-Control-*`` headers, even when signed. The public URLs stay public: a page may fetch a
tunnel, as on AWS. Not AWS behaviour: the local stack's own safety (its credentials are
public)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.exceptions import InvalidStatus

from tests.gateway.conftest import SUBDOMAIN, http_request
from tests.gateway.websocket_client import open_socket, whoami

PAGE = b"the local API Gateway refuses requests from web pages (Origin header)\n"


def signed(url: str, body: bytes = b"", method: str = "POST") -> list[tuple[str, str]]:
    """A call botocore signed (valid: only the guard can refuse it), its Host first."""
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials("testing", "testing"), "execute-api", "us-east-1").add_auth(request)
    headers = [(name, str(value)) for name, value in request.headers.items()]
    return [("Host", urlsplit(url).netloc), *headers]


def no_cors(headers: list[tuple[str, str]]) -> bool:
    return not any(name.lower().startswith("access-control-") for name, _ in headers)


def test_connections_refuses_a_page_even_signed(gateway):
    with open_socket(gateway, "token=allow") as socket:
        connection_id = whoami(socket)["connectionId"]
        url = f"{gateway.connections_endpoint}/@connections/{connection_id}"
        target = urlsplit(url).path
        body = b"from a page"
        headers = signed(url, body)
        host = headers[0][1]
        for page in (("Origin", "http://127.0.0.1:8000"), ("Sec-Fetch-Site", "same-site")):
            status, answered, text = http_request(
                gateway, "POST", target, [*headers[1:], page], body, host=host
            )
            assert status == 403 and no_cors(answered)
            assert text.startswith(b"the local API Gateway refuses requests from web pages")
        preflight = [("Origin", "null"), ("Access-Control-Request-Method", "POST")]
        status, answered, text = http_request(gateway, "OPTIONS", target, preflight, host=host)
        assert (status, text) == (403, PAGE) and no_cors(answered)
        # The same call, as boto3 sends it, is served: the message reaches the agent, once.
        status, _, _ = http_request(gateway, "POST", target, headers[1:], body, host=host)
        assert status == 200
        assert socket.recv(timeout=10) == "from a page"


def test_connections_answers_on_loopback_only(gateway):
    target = f"/{gateway.environment}/@connections/bm9zdWNoY29ubmVjdGlvbg="
    for host in (f"127.0.0.1:{gateway.port}", f"[::1]:{gateway.port}", "127.0.0.2"):
        headers = signed(f"http://{host}{target}", method="GET")
        status, _, _ = http_request(gateway, "GET", target, headers[1:], host=host)
        assert status == 410, host  # served: GoneException, the id is unknown
    headers = signed(f"http://192.0.2.1{target}", method="GET")
    status, answered, text = http_request(gateway, "GET", target, headers[1:], host="192.0.2.1")
    assert (status, text) == (
        403,
        b"the local API Gateway answers only on a loopback name, not '192.0.2.1' "
        b"(DNS-rebinding guard)\n",
    )
    assert no_cors(answered)


def test_the_websocket_handshake_refuses_a_page(gateway):
    for options in (
        {"origin": "http://127.0.0.1:8000"},
        {"additional_headers": {"Sec-Fetch-Mode": "websocket"}},
    ):
        with pytest.raises(InvalidStatus) as refused:
            open_socket(gateway, "token=allow", **options)
        assert refused.value.response.status_code == 403
        assert refused.value.response.body.startswith(b"the local API Gateway refuses")
    with open_socket(gateway, "token=allow") as socket:  # the agent's way: no Origin
        assert whoami(socket)["connectionId"]


def test_the_public_urls_stay_public(gateway):
    """A page may fetch a tunnel's public URL: the guard is not there."""
    target = gateway.target(SUBDOMAIN, "/x")
    status, _, text = http_request(gateway, "GET", target, [("Origin", "http://elsewhere.test")])
    assert status != 403 and b"refuses requests from web pages" not in text
