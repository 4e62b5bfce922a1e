"""``http://localhost:<port>`` is the HTTP API's own endpoint (``<api-id>.execute-api...``), a
name every client resolves: Python's and Node's resolvers on Debian do not resolve
``*.localhost``, only curl and browsers do. ``<api-id>.execute-api.localhost`` stays an alias;
an address (``127.0.0.1``, ``[::1]``) stays the WebSocket API's and @connections' endpoint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local_gateway import testing
from tests.gateway.conftest import http_request, start_gateway
from tests.gateway.recording import Records
from tests.gateway.websocket_client import open_socket

NOT_FOUND = {"message": "Not Found"}
# Python's own resolver and no proxy: as a script would call the URL.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def test_the_tunnel_urls_are_on_localhost(gateway):
    assert gateway.public_url_format == f"http://localhost:{gateway.port}/{{subdomain}}"
    (ready,) = [line for line in gateway.log().splitlines() if " ready on " in line]
    assert f"HTTP http://localhost:{gateway.port}/{{subdomain}}, " in ready


def test_python_reaches_the_http_api_at_localhost(gateway, wiring):
    with DIRECT.open(f"http://localhost:{gateway.port}/demo/items/1?q=1", timeout=30) as answer:
        assert answer.status == 200
        event = json.loads(answer.read())
    # The function sees the name the client used, as API Gateway gives it the one its client
    # used: never an AWS name the browser did not use (the app builds its URLs from it).
    assert event["headers"]["host"] == f"localhost:{gateway.port}"
    assert event["requestContext"]["domainName"] == "localhost"
    assert (event["rawPath"], event["rawQueryString"]) == ("/demo/items/1", "q=1")


def test_the_execute_api_name_is_an_alias(gateway, wiring):
    host = f"{wiring.http_api_id}.execute-api.localhost:{gateway.port}"
    status, _, body = http_request(gateway, "GET", "/demo/alias", host=host)
    assert status == 200, body
    event = json.loads(body)
    assert (event["headers"]["host"], event["rawPath"]) == (host, "/demo/alias")
    assert event["requestContext"]["domainName"] == host.split(":")[0]


def test_the_websocket_api_stays_on_the_address(gateway):
    with open_socket(gateway, "token=allow") as socket:
        socket.send(json.dumps({"reply": "by address"}))
        assert socket.recv(timeout=10) == "by address"
    # At localhost the upgrade is a request to the HTTP API, which never answers 101.
    with pytest.raises(InvalidStatus):
        connect(
            f"ws://localhost:{gateway.port}/dev?token=allow", proxy=None, open_timeout=10
        ).close()


@pytest.fixture
def disabled_gateway(launched, wiring) -> Iterator[testing.GatewayProcess]:
    """A gateway started on dev whose HTTP API has DisableExecuteApiEndpoint (a custom domain's
    environment), put back as it was afterwards."""
    apigateway = launched.client("apigatewayv2")
    apigateway.update_api(ApiId=wiring.http_api_id, DisableExecuteApiEndpoint=True)
    folder = launched.root / "localhost-disabled-records"
    folder.mkdir(exist_ok=True)
    try:
        handle = start_gateway(launched, Records(folder))
        try:
            yield handle
        finally:
            testing.stop(handle)
    finally:
        apigateway.update_api(ApiId=wiring.http_api_id, DisableExecuteApiEndpoint=False)


def test_a_disabled_execute_api_endpoint_is_not_found_at_localhost_either(disabled_gateway, wiring):
    handle = disabled_gateway
    for host in ("localhost", f"{wiring.http_api_id}.execute-api.localhost"):
        status, _, body = http_request(handle, "GET", "/demo/x", host=f"{host}:{handle.port}")
        assert (status, json.loads(body)) == (404, NOT_FOUND)
    with pytest.raises(urllib.error.HTTPError) as refused:
        DIRECT.open(f"http://localhost:{handle.port}/demo/x", timeout=30)
    assert refused.value.code == 404
