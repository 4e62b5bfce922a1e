"""Server-sent events through the URL the agent prints, in headless Chromium: a page whose
``EventSource`` reads a stream of 5 events the local app sends one second apart.

- host form (a custom domain: the REST API edge streams): each event reaches the page as it is
  sent, within 300 ms;
- path form (no domain: the HTTP API, buffered): the events all arrive, together, once the app
  has ended the stream; the README's "Public URLs" says so.

The app is a small standard-library server (an event stream needs nothing more), on a free port.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.apps import servers
from tests.apps.launch import public_url
from tests.browser.conftest import wait_until
from tests.tunnel.conftest import Tunnel

EVENTS = 5
INTERVAL_SECONDS = 1.0
STREAMED_WITHIN_MS = 300
PAGE = (
    b"""<!doctype html><meta charset="utf-8"><title>events</title>
<ul id="events"></ul>
<script>
window.received = [];
const source = new EventSource("events");
source.onmessage = (event) => {
  window.received.push({n: Number(event.data), at: Date.now()});
  const item = document.createElement("li");
  item.textContent = event.data;
  document.getElementById("events").append(item);
  if (window.received.length === %d) source.close();
};
</script>
"""
    % EVENTS
)


@dataclass
class EventApp:
    """The local app: ``/`` the page, ``/events`` the stream; when each event was sent."""

    port: int
    sent: dict[int, float] = field(default_factory=dict)  # event -> epoch ms
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.endswith("/events"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.end_headers()
                    for n in range(EVENTS):
                        if n:
                            time.sleep(INTERVAL_SECONDS)  # the app's own pace, not a test's wait
                        app.sent[n] = time.time() * 1000
                        self.wfile.write(f"data: {n}\n\n".encode())
                        self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(PAGE)))
                self.end_headers()
                self.wfile.write(PAGE)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def events_url(stack: Tunnel) -> Iterator[tuple[str, EventApp]]:
    port = servers.free_port()
    url, agent = public_url(stack, "events", port)
    app = EventApp(port)
    app.start()
    try:
        yield url, app
    finally:
        agent.stop()
        app.stop()


def test_an_event_source_gets_the_events(events_url, browser, request):
    url, app = events_url
    browser.get(f"{url}/")
    wait_until(
        lambda: len(browser.execute_script("return window.received || []")) == EVENTS,
        EVENTS * INTERVAL_SECONDS + 20,
    )
    received = browser.execute_script("return window.received")
    assert [r["n"] for r in received] == list(range(EVENTS))
    delays = {r["n"]: r["at"] - app.sent[r["n"]] for r in received}
    form = request.node.callspec.params["stack"]
    if form == "host":
        # Streamed: each event as it is sent.
        late = {n: round(d) for n, d in delays.items() if d > STREAMED_WITHIN_MS}
        assert not late, f"events later than {STREAMED_WITHIN_MS} ms (ms): {json.dumps(late)}"
    else:
        # Buffered by the HTTP API: nothing before the stream's end, then everything.
        first = min(r["at"] for r in received)
        assert first >= app.sent[EVENTS - 1], delays
