"""A page on another loopback origin, in a real headless Chromium, tries what a hostile page
open beside ``make local`` would: read the signing secret from Secrets Manager, read and write
S3 objects, dump and reset moto's state, write to an agent through ``@connections`` and open
the agent's WebSocket. Every ``fetch`` it may read fails (no ``Access-Control-*`` header comes
back), the ``no-cors`` ones come back opaque, and nothing changed: the emulator still holds what
it held, and the agent got nothing (emulator/browser_guard.py, local_gateway/browser_guard.py).
"""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import wait_until
from tests.emulator.conftest import aws, emulator_endpoint  # noqa: F401
from tests.gateway.conftest import gateway, launched, records, wiring  # noqa: F401
from tests.gateway.websocket_client import open_socket, whoami

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>elsewhere</title></head>
<body><pre id="results"></pre>
<script>
const EMULATOR = %(emulator)s, GATEWAY = %(gateway)s, SECRET = %(secret)s, BUCKET = %(bucket)s;
const CONNECTION = %(connection)s;
const results = {};

async function attempt(name, url, options) {
  try {
    const response = await fetch(url, options);
    let text = "";
    try { text = await response.text(); } catch (error) { text = "unreadable " + error; }
    results[name] = {fetched: true, type: response.type, status: response.status, text: text};
  } catch (error) {
    results[name] = {fetched: false, error: String(error)};
  }
}

function socket(name, url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.onopen = () => { results[name] = {opened: true}; ws.close(); resolve(); };
    ws.onerror = () => { results[name] = {opened: false}; resolve(); };
  });
}

(async () => {
  const target = {"X-Amz-Target": "secretsmanager.GetSecretValue",
                  "Content-Type": "application/x-amz-json-1.1"};
  await attempt("secret", EMULATOR + "/", {method: "POST", headers: target,
                                           body: JSON.stringify({SecretId: SECRET})});
  await attempt("object", EMULATOR + "/" + BUCKET + "/a.txt");
  await attempt("object-no-cors", EMULATOR + "/" + BUCKET + "/a.txt", {mode: "no-cors"});
  await attempt("put", EMULATOR + "/" + BUCKET + "/a.txt", {method: "PUT", body: "page"});
  await attempt("put-new", EMULATOR + "/" + BUCKET + "/b.txt", {method: "PUT", body: "page"});
  await attempt("dump", EMULATOR + "/moto-api/data.json");
  await attempt("reset", EMULATOR + "/moto-api/reset", {method: "POST", mode: "no-cors"});
  const connection = GATEWAY + "/dev/@connections/" + encodeURIComponent(CONNECTION);
  await attempt("post", connection, {method: "POST", body: "from the page"});
  await attempt("post-no-cors", connection, {method: "POST", mode: "no-cors",
                                             body: "from the page, no-cors"});
  await attempt("describe", connection);
  await socket("websocket", GATEWAY.replace("http:", "ws:") + "/dev?token=allow");
  document.getElementById("results").textContent = JSON.stringify(results);
})();
</script></body></html>
"""


class _Page(http.server.BaseHTTPRequestHandler):
    html = b""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.html)))
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def serve_page() -> Iterator[Any]:
    """``serve_page(html)`` -> the URL of a page on its own loopback origin (a free port)."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(html: str) -> str:
        handler = type("Page", (_Page,), {"html": html.encode()})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_page_elsewhere_reads_nothing_and_changes_nothing(
    driver,
    serve_page,
    emulator_endpoint,  # noqa: F811
    aws,  # noqa: F811
    gateway,  # noqa: F811
):
    name = f"page-{uuid.uuid4().hex[:8]}"
    aws("secretsmanager").create_secret(Name=name, SecretString="the signing secret")
    aws("s3").create_bucket(Bucket=name)
    aws("s3").put_object(Bucket=name, Key="a.txt", Body=b"before")

    with open_socket(gateway, "token=allow") as agent:
        connection_id = whoami(agent)["connectionId"]
        page = PAGE % {
            "emulator": json.dumps(emulator_endpoint),
            "gateway": json.dumps(gateway.url),
            "secret": json.dumps(name),
            "bucket": json.dumps(name),
            "connection": json.dumps(connection_id),
        }
        url = serve_page(page)
        assert urlsplit(url).port not in (urlsplit(emulator_endpoint).port, gateway.port)
        driver.get(url)
        from selenium.webdriver.common.by import By

        text = wait_until(lambda: driver.find_element(By.ID, "results").text)
        results = json.loads(text)

        # What the page may read failed to fetch: no CORS header came back.
        for readable in ("secret", "object", "put", "put-new", "dump", "post", "describe"):
            assert results[readable]["fetched"] is False, (readable, results[readable])
            assert "Failed to fetch" in results[readable]["error"]
        # What it may send blind came back opaque: no status, no body.
        for blind in ("object-no-cors", "reset", "post-no-cors"):
            assert results[blind] == {"fetched": True, "type": "opaque", "status": 0, "text": ""}
        assert results["websocket"] == {"opened": False}
        assert "the signing secret" not in text and "before" not in text

        # And nothing happened: the agent got only what it asks for itself...
        agent.send(json.dumps({"reply": "marker: nothing else arrived"}))
        assert agent.recv(timeout=10) == "marker: nothing else arrived"
    # ...and the emulator holds what it held (moto was not reset, no object was written).
    secret = aws("secretsmanager").get_secret_value(SecretId=name)
    assert secret["SecretString"] == "the signing secret"
    assert aws("s3").get_object(Bucket=name, Key="a.txt")["Body"].read() == b"before"
    listed = aws("s3").list_objects_v2(Bucket=name)["Contents"]
    assert [entry["Key"] for entry in listed] == ["a.txt"]
