"""The inspector's page in a real headless Chromium, fed by requests really forwarded to a local
app (``forward_blocking``, captured as the agent captures them)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser.conftest import InspectorPage, wait_until
from tests.cli.harness import LocalApp
from tests.cli.inspector_helpers import (
    exchange,
    forward_and_capture,
    running_inspector,
    tunnel_view,
)
from tunnel_cli.inspector.traffic import CUT, Traffic

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "inspector.png"


@pytest.fixture
def app():
    with LocalApp() as local_app:
        yield local_app


@pytest.fixture
def setup(app: LocalApp):
    traffic = Traffic()
    view = tunnel_view(app.port)
    with running_inspector(traffic, [view]) as inspector:
        yield traffic, view, inspector


@pytest.fixture
def page(driver, setup) -> InspectorPage:
    _, _, inspector = setup
    return InspectorPage(driver, inspector.url + "/").load()


def test_requests_appear_live_and_open(page: InspectorPage, setup, app: LocalApp) -> None:
    traffic, view, _ = setup
    assert page.rows() == []
    document = {"user": {"id": 7, "tags": ["a", "b"]}, "ok": True}
    forward_and_capture(
        traffic,
        view,
        "POST",
        "/api/users?notify=1",
        [("Content-Type", "application/json"), ("X-Trace", "t-1"), ("X-Trace", "t-2")],
        json.dumps(document, separators=(",", ":")).encode(),
    )
    rows = page.wait_rows(1)  # no reload: the live update brought it
    assert rows[0]["method"] == "POST" and rows[0]["path"] == "/api/users?notify=1"
    assert rows[0]["status"] == "200"
    page.open(0)
    headers = page.headers("request")
    assert headers[0] == ("Host", "demo.tunnel.test")
    assert ("X-Trace", "t-1") in headers and headers.index(("X-Trace", "t-1")) + 1 == headers.index(
        ("X-Trace", "t-2")
    )
    assert page.body("request", "body-json") == json.dumps(document, indent=2)
    # The app echoes as application/octet-stream: a hex dump with its size.
    hex_dump = page.body("response", "body-hex")
    assert hex_dump.startswith("00000000  7b 22 75 73 65 72 22")
    assert "bytes" in page.text("body-hex-size")


def test_replay_reaches_the_local_service_again(page: InspectorPage, setup, app) -> None:
    traffic, view, _ = setup
    forward_and_capture(traffic, view, "PUT", "/items/1", [("X-Key", "k")], b"first")
    page.wait_rows(1)
    page.open(0)
    page.replay()
    rows = page.wait_rows(2)
    assert len(app.requests) == 2
    assert (app.requests[1].method, app.requests[1].target, app.requests[1].body) == (
        "PUT",
        "/items/1",
        b"first",
    )
    assert rows[0]["replay"] and not rows[1]["replay"]
    wait_until(lambda: "replay of" in page.text("summary"))
    page.open(1)
    page.replay_edited("POST", "/items/2?edited=1", "second")
    page.wait_rows(3)
    assert (app.requests[2].method, app.requests[2].target, app.requests[2].body) == (
        "POST",
        "/items/2?edited=1",
        b"second",
    )


def test_bodies_form_text_image_and_filters(page: InspectorPage, setup) -> None:
    traffic, view, _ = setup
    forward_and_capture(
        traffic,
        view,
        "POST",
        "/form",
        [("Content-Type", "application/x-www-form-urlencoded")],
        b"name=Ada+L&lang=%3Cscript%3E",
    )
    forward_and_capture(traffic, view, "GET", "/random?size=100000&seed=3")
    forward_and_capture(traffic, view, "DELETE", "/missing", [], b"")
    page.wait_rows(3)
    page.open(2)
    form = page.body("request", "body-form")
    assert "name Ada L" in form and "lang <script>" in form  # shown as text, never as markup
    page.open(1)
    assert "Showing the first 65,536 of 100,000 bytes." in page.text("response-body")
    page.filter(method="DELETE")
    wait_until(lambda: [r["path"] for r in page.rows()] == ["/missing"])
    page.filter(path="form")
    wait_until(lambda: [r["path"] for r in page.rows()] == ["/form"])
    page.filter(status="2xx")
    wait_until(lambda: len(page.rows()) == 3)


def test_captured_markup_is_never_run(page: InspectorPage, setup) -> None:
    traffic, view, _ = setup
    evil = "<img src=x onerror=\"document.title='pwned'\">"
    forward_and_capture(
        traffic,
        view,
        "POST",
        "/x",
        [("Content-Type", "text/html"), ("X-Evil", evil)],
        evil.encode(),
    )
    page.wait_rows(1)
    page.open(0)
    assert page.body("request", "body-text") == evil
    assert ("X-Evil", evil) in page.headers("request")
    assert page.driver.title == "tunnel inspector"


def test_copy_as_curl(page: InspectorPage, setup) -> None:
    traffic, view, _ = setup
    forward_and_capture(
        traffic, view, "POST", "/it's?a=1", [("X-Quote", "it's")], b"body with 'quotes'"
    )
    page.wait_rows(1)
    page.open(0)
    command = page.curl("public")
    words = shlex.split(command)
    assert words[:5] == ["curl", "--globoff", "-X", "POST", "https://demo.tunnel.test/it's?a=1"]
    assert words[words.index("--data-raw") + 1] == "body with 'quotes'"
    assert "X-Quote: it's" in words and not any(w.startswith("Host:") for w in words)
    local = shlex.split(page.curl("local"))
    assert local[4] == f"{view.addr}/it's?a=1" and "Host: demo.tunnel.test" in local


def test_screenshot(page: InspectorPage, setup) -> None:
    """A picture of the page with a few requests, one open: docs/inspector.png (rewritten when
    INSPECTOR_SCREENSHOT=1, else written to a temporary file and checked)."""
    traffic, view, _ = setup
    body = {"event": "invoice.paid", "data": {"id": "in_1", "amount": 4200, "currency": "eur"}}
    forward_and_capture(traffic, view, "GET", "/", [("Accept", "text/html")])
    forward_and_capture(traffic, view, "GET", "/no-content", [("Accept", "*/*")])
    forward_and_capture(traffic, view, "GET", "/cookies", [("Cookie", "session=abc")])
    forward_and_capture(
        traffic,
        view,
        "POST",
        "/webhooks/stripe",
        [
            ("Content-Type", "application/json"),
            ("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
            (
                "Stripe-Signature",
                "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51",
            ),
            ("X-Forwarded-For", "203.0.113.7"),
        ],
        json.dumps(body).encode(),
    )
    page.wait_rows(4)
    page.open(0)
    page.body("request", "body-json")
    target = SCREENSHOT if os.environ.get("INSPECTOR_SCREENSHOT") == "1" else None
    png = page.driver.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    if target is not None:
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(png)


def test_a_request_in_flight_counts_up_then_shows_how_it_ended(page: InspectorPage, setup) -> None:
    traffic, _, _ = setup

    def seconds(text: str) -> float:  # the page's durations: "12ms", "1.25s"
        return float(text[:-2]) / 1000 if text.endswith("ms") else float(text[:-1])

    def took() -> float:
        return seconds(page.find_all("row-duration")[0].text)

    entry = traffic.begin(exchange("/events"))
    [row] = page.wait_rows(1)  # listed as it arrives
    assert (row["path"], row["status"]) == ("/events", "in flight")
    first = took()
    wait_until(lambda: took() >= first + 0.3)  # counting up, with no new traffic
    page.open(0)
    assert page.text("response-line") == "No response yet: in flight"
    assert "in flight for" in page.text("summary")

    traffic.finish(entry, exchange("/events", response_body=b"data: tick\n\n"))
    wait_until(lambda: page.rows()[0]["status"] == "200")  # the same row, answered
    wait_until(lambda: page.text("response-line") == "HTTP/1.1 200 OK")  # the open one too

    cut = traffic.begin(exchange("/stream"))
    page.wait_rows(2)
    reason = "cut at the deadline after 27.0 s"
    traffic.finish(cut, replace(exchange("/stream"), state=CUT, cut=reason, duration=27.0))
    wait_until(lambda: page.rows()[0]["status"] == "cut")
    assert [badge.text for badge in page.find_all("cut-badge")] == [reason]
    assert page.find_all("row-duration")[0].text == "27.00s"
    page.open(0)
    assert page.text("response-line") == f"No response: {reason} (the caller got the tunnel's 504)"
    assert reason in page.text("summary")


# Another site's page (S8) ------------------------------------------------------------------

HOSTILE = """<!doctype html>
<html><head><meta charset="utf-8"><title>elsewhere</title></head><body>
<script>
const INSPECTOR = %(inspector)s;
(async () => {
  // XS-Search: time the filtered list with and without a match; the answer is never readable.
  for (const path of ["/secret", "/nothing"]) {
    await fetch(INSPECTOR + "/api/requests/http?path=" + path, {mode: "no-cors"}).catch(() => 0);
  }
  await new Promise((done) => {
    const image = new Image();
    image.onload = image.onerror = done;
    image.src = INSPECTOR + "/api/requests/http?limit=1";
  });
  document.title = "done";
})();
</script></body></html>
"""


class Proxy:
    """A loopback TCP relay in front of the inspector that notes, connection by connection,
    each request line and the status it was answered with, as the browser sent and got them."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[tuple[list[bytes], list[bytes]]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            sent: list[bytes] = []
            answered: list[bytes] = []
            self.connections.append((sent, answered))
            for source, sink, pattern, notes in (
                (client, server, REQUEST_LINE, sent),
                (server, client, STATUS_LINE, answered),
            ):
                threading.Thread(
                    target=self._pipe, args=(source, sink, pattern, notes), daemon=True
                ).start()

    @staticmethod
    def _pipe(
        source: socket.socket, sink: socket.socket, pattern: re.Pattern[bytes], notes: list[bytes]
    ) -> None:
        try:
            while data := source.recv(65536):
                notes.extend(pattern.findall(data))  # before the browser sees it
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def exchanges(self) -> list[tuple[bytes, bytes]]:
        """(request target, status) of every answered request."""
        return [
            pair
            for sent, answered in list(self.connections)
            for pair in zip(sent, answered, strict=False)
        ]

    def close(self) -> None:
        self.listener.close()


REQUEST_LINE = re.compile(rb"(?m)^[A-Z]+ (/\S*) HTTP/1\.1\r$")
STATUS_LINE = re.compile(rb"(?m)^HTTP/1\.[01] (\d{3}) ")


@pytest.fixture
def proxy(setup) -> Iterator[Proxy]:
    _, _, inspector = setup
    relay = Proxy(inspector.port)
    try:
        yield relay
    finally:
        relay.close()


@pytest.fixture
def hostile_page() -> Iterator[Callable[[str, str], str]]:
    """``hostile_page(host, inspector_url)``: the URL of a page on ``host`` (another port)."""
    servers: list[ThreadingHTTPServer] = []

    def serve(host: str, inspector_url: str) -> str:
        html = (HOSTILE % {"inspector": json.dumps(inspector_url)}).encode()

        class Page(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(html)))
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://{host}:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("page_host", "inspector_host"),
    [("127.0.0.1", "localhost"), ("localhost", "localhost")],
    ids=["cross-site", "same-site"],
)
def test_another_sites_page_is_refused_every_read(
    driver, setup, proxy: Proxy, hostile_page, page_host: str, inspector_host: str
) -> None:
    traffic, view, _ = setup
    traffic.add(exchange(target="/secret"))
    driver.get(hostile_page(page_host, f"http://{inspector_host}:{proxy.port}"))
    wait_until(lambda: driver.title == "done")
    wait_until(lambda: len(proxy.exchanges()) >= 3)
    assert sorted(proxy.exchanges()) == [
        (b"/api/requests/http?limit=1", b"403"),
        (b"/api/requests/http?path=/nothing", b"403"),
        (b"/api/requests/http?path=/secret", b"403"),
    ]


def test_the_page_keeps_working_through_the_guard(driver, setup, proxy: Proxy) -> None:
    traffic, view, _ = setup
    traffic.add(exchange(target="/secret"))
    page = InspectorPage(driver, f"http://localhost:{proxy.port}/").load()
    assert page.wait_rows(1)[0]["path"] == "/secret"
    page.open(0)
    # Chromium's own /favicon.ico is no request of the page's: the inspector has none.
    refused = [pair for pair in proxy.exchanges() if pair[1] != b"200"]
    assert refused in ([], [(b"/favicon.ico", b"404")])
    lists = [line for line, _ in proxy.exchanges() if line.startswith(b"/api/requests/http?")]
    assert lists and (b"/api/tunnels", b"200") in proxy.exchanges()
