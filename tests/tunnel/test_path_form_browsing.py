"""An app written for the root of its origin, browsed through the path form as a browser would.

The whole local tunnel (emulator, launched dev, local gateway, the `tunnel` agent) and a small
app that redirects ``/`` to ``/items?moved=1``, serves a page that links ``/static/app.css`` and
echoes what it received. A client with a cookie jar (urllib and http.cookiejar, as a browser
keeps cookies) follows the redirect back under ``/<subdomain>``, is given the routing cookie,
and fetches the absolute ``/static/app.css`` from the same tunnel; the app is told the Host,
scheme and port the client used, never an AWS name, and never sees the routing cookie.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin

import pytest

from tests.tunnel.conftest import Tunnel

PAGE = b'<!doctype html><link rel="stylesheet" href="/static/app.css"><a href="/echo">echo</a>'
CSS = b"body { color: teal }"


class RootApp:
    """A local service that knows nothing of prefixes: absolute links, absolute redirects."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                seen = {
                    "target": self.path,
                    "headers": [[k.lower(), v] for k, v in self.headers.items()],
                }
                app.received.append(seen)
                path = self.path.split("?")[0]
                if path == "/":
                    self._send(302, [("location", "/items?moved=1")], b"")
                elif path == "/items":
                    self._send(200, [("content-type", "text/html")], PAGE)
                elif path == "/static/app.css":
                    self._send(200, [("content-type", "text/css")], CSS)
                else:
                    self._send(
                        200, [("content-type", "application/json")], json.dumps(seen).encode()
                    )

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def root_app() -> Iterator[RootApp]:
    app = RootApp()
    yield app
    app.stop()


class Browser:
    """urllib with a cookie jar and no proxy: follows redirects and keeps cookies."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar)
        )

    def get(self, url: str) -> tuple[int, str, bytes]:
        """The status, the final URL (after redirects) and the body."""
        try:
            with self.opener.open(url, timeout=40) as answer:
                return answer.status, answer.geturl(), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read()

    def cookies(self) -> dict[str, str]:
        return {cookie.name: str(cookie.value) for cookie in self.jar}


def header(seen: dict, name: str) -> list[str]:
    return [value for key, value in seen["headers"] if key == name]


def test_a_root_app_is_browsed_through_the_path_form(tunnel: Tunnel, root_app: RootApp):
    agent = tunnel.agent(tunnel.token("shop"), root_app.port)
    public = agent.wait_for(r"^Forwarding (\S+) -> ").group(1)
    origin = f"http://localhost:{tunnel.gateway.port}"
    assert public == f"{origin}/shop"
    browser = Browser()

    # The app's redirect to /items comes back under the prefix; the routing cookie is set.
    status, url, page = browser.get(public + "/")
    assert (status, url, page) == (200, f"{origin}/shop/items?moved=1", PAGE)
    assert browser.cookies() == {"tunnel-route": "shop"}
    (redirected, shown) = root_app.received[-2:]
    assert (redirected["target"], shown["target"]) == ("/", "/items?moved=1")

    # The page's absolute link reaches the same tunnel: sent back under its prefix (where the
    # app's own cookies are sent), the path the app gets unchanged.
    stylesheet = urljoin(url, re.search(rb'href="([^"]+)"', page).group(1).decode())
    assert stylesheet == f"{origin}/static/app.css"
    assert browser.get(stylesheet) == (200, f"{origin}/shop/static/app.css", CSS)
    assert root_app.received[-1]["target"] == "/static/app.css"

    # The app is told what the browser used, and never sees the routing cookie.
    for target, prefix in (("/echo", ["/shop"]), ("/shop/echo", ["/shop"])):
        status, _, body = browser.get(origin + target)
        assert status == 200, body
        seen = json.loads(body)
        assert seen["target"] == "/echo"
        host = f"localhost:{tunnel.gateway.port}"
        assert header(seen, "host") == [host]
        assert header(seen, "x-forwarded-host") == [host]
        assert header(seen, "x-forwarded-proto") == ["http"]
        assert header(seen, "x-forwarded-port") == [str(tunnel.gateway.port)]
        assert header(seen, "x-forwarded-prefix") == prefix
        assert header(seen, "cookie") == []
        assert "amazonaws.com" not in body.decode()

    # A script that keeps no cookies (curl, a webhook) keeps the plain path form.
    script = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with script.open(f"{origin}/shop/static/app.css", timeout=40) as answer:
        assert answer.read() == CSS
    with pytest.raises(urllib.error.HTTPError) as refused:
        script.open(stylesheet, timeout=40)
    assert refused.value.code == 404

    # Once the tunnel is gone, its cookie routes nowhere and is cleared.
    agent.stop()
    deadline = time.monotonic() + 15
    while (status := browser.get(stylesheet)[0]) != 404 and time.monotonic() < deadline:
        time.sleep(0.1)  # the $disconnect releases the claim once the socket closes
    assert status == 404
    assert browser.cookies() == {}


def test_rewrite_gives_the_local_address_as_host_and_keeps_the_truth_forwarded(
    tunnel: Tunnel, root_app: RootApp
):
    agent = tunnel.agent(
        tunnel.token("shop-rw"), root_app.port, "--no-inspect", "--host-header", "rewrite"
    )
    public = agent.wait_for(r"^Forwarding (\S+) -> ").group(1)
    status, _, body = Browser().get(public + "/echo")
    assert status == 200, body
    seen = json.loads(body)
    assert header(seen, "host") == [f"127.0.0.1:{root_app.port}"]
    assert header(seen, "x-forwarded-host") == [f"localhost:{tunnel.gateway.port}"]
    assert header(seen, "x-forwarded-proto") == ["http"]
    assert header(seen, "x-forwarded-port") == [str(tunnel.gateway.port)]
    assert header(seen, "x-forwarded-prefix") == ["/shop-rw"]
    agent.stop()
