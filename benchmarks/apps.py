"""``make bench`` (apps): a page with 30 assets in headless Chromium, through the tunnel and
directly, in both of the local stack's forms.

The page (served by the standard library, HTTP/1.1 keep-alive) references 10 stylesheets, 10
scripts and 10 PNG images, each about 1 KB, by absolute paths (``/assets/...``), as apps do:
under the path form they reach the tunnel through its routing cookie. Each form is a launched
dev of its own (tests/apps/launch.py: ``path``, ``http://localhost:<gw>/<sub>``; ``host``, a
custom domain, ``http://<sub>.localhost:<gw>``) with its own agent. Chromium's cache is off;
each load is timed from navigation start to the end of the load event (Navigation Timing), and
must have fetched all 30 assets with 200. Loads alternate, direct then tunnel, after one
unrecorded load of each; medians of RUNS each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import tempfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.apps.launch import FORMS, launched, public_url  # noqa: E402
from tests.browser.conftest import CHROMEDRIVER, CHROMIUM, FLAGS  # noqa: E402

RUNS = 5
ASSET_BYTES = 1000
# Read once the load event of a document not yet measured has ended (chromedriver's get may
# return a moment before it does), and mark that document measured: the async script answers
# from the load event, never from a timer.
TIMING = """
const done = arguments[arguments.length - 1];
const report = () => {
  const [nav] = performance.getEntriesByType('navigation');
  if (window.__measured || !nav || nav.loadEventEnd <= 0) return done(null);
  window.__measured = true;
  const assets = performance.getEntriesByType('resource')
    .filter(entry => new URL(entry.name).pathname.startsWith('/assets/'));
  done([nav.loadEventEnd - nav.startTime, assets.map(entry => entry.responseStatus)]);
};
if (document.readyState === 'complete') setTimeout(report, 0);
else addEventListener('load', () => setTimeout(report, 0), {once: true});
"""


def _png(seed: int) -> bytes:
    """A small valid PNG (16x16 RGB, noisy enough to be about ASSET_BYTES)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\0" + bytes((x * 37 + y * 101 + seed * 53 + x * y) % 256 for x in range(48))
        for y in range(16)
    )
    header = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def site() -> dict[str, tuple[str, bytes]]:
    """Path -> (content type, body): the page and its 30 assets."""
    files: dict[str, tuple[str, bytes]] = {}
    for index in range(10):
        css = f".c{index} {{ color: #{index}{index}{index}; margin: {index}px; }}\n"
        files[f"/assets/style{index}.css"] = ("text/css", css.ljust(ASSET_BYTES).encode())
        js = f"window.loaded = (window.loaded || 0) + 1; // {index}\n"
        files[f"/assets/script{index}.js"] = ("text/javascript", js.ljust(ASSET_BYTES).encode())
        files[f"/assets/image{index}.png"] = ("image/png", _png(index))
    links = "".join(f'<link rel="stylesheet" href="{p}">' for p in files if p.endswith(".css"))
    scripts = "".join(f'<script src="{p}"></script>' for p in files if p.endswith(".js"))
    images = "".join(f'<img src="{p}" alt="">' for p in files if p.endswith(".png"))
    head = f"<!doctype html><html><head><title>30 assets</title>{links}</head>"
    page = f"{head}<body>{images}{scripts}</body></html>"
    files["/"] = ("text/html; charset=utf-8", page.encode())
    return files


def serve(files: dict[str, tuple[str, bytes]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            kind, body = files.get(self.path.split("?")[0], ("text/plain", b""))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def chromium(profile: str) -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    return driver


def load_ms(driver: object, url: str) -> float:
    driver.get(url)
    measured = None
    for _ in range(3):  # a report of null: the old document, or its load event not yet ended
        if measured := driver.execute_async_script(TIMING):
            break
    if not measured:
        raise RuntimeError(f"{url}: no load event reported")
    elapsed, statuses = measured
    if len(statuses) != 30 or set(statuses) != {200}:
        page = driver.execute_script(
            "const [nav] = performance.getEntriesByType('navigation');"
            "return [nav.responseStatus, document.body ? document.body.innerText : ''];"
        )
        raise RuntimeError(
            f"{url}: the page ({page[0]}: {page[1][:200]!r}) fetched {statuses}, "
            "not 30 assets answered 200"
        )
    return elapsed


def measure(form: str, driver: object, runs: int, workdir: Path) -> tuple[float, float]:
    server = serve(site())
    port = server.server_address[1]
    try:
        with launched(workdir / form, form) as stack:
            url, _ = public_url(stack, "bench", port)
            direct, tunnel = f"http://127.0.0.1:{port}/", f"{url}/"
            load_ms(driver, direct), load_ms(driver, tunnel)  # unrecorded: connections, code
            times: dict[str, list[float]] = {direct: [], tunnel: []}
            for _ in range(runs):
                for target in (direct, tunnel):
                    times[target].append(load_ms(driver, target))
            return statistics.median(times[direct]), statistics.median(times[tunnel])
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args(argv)
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        print("apps bench: Chromium is missing: run `make browser`", file=sys.stderr)
        return 1
    results = {}
    with tempfile.TemporaryDirectory(prefix="apps-bench-") as workdir:
        driver = chromium(str(Path(workdir) / "profile"))
        try:
            for form in FORMS:
                results[form] = measure(form, driver, args.runs, Path(workdir))
        finally:
            driver.quit()
    print(
        f"\npage with 30 assets (10 CSS, 10 JS, 10 PNG, ~1 KB each, absolute paths), headless "
        f"Chromium, cache off,\nnavigation start -> load event end, median of {args.runs} "
        f"each, direct and tunnel interleaved"
    )
    print(f"{'form':<6} {'direct ms':>10} {'tunnel ms':>10} {'ratio':>7}")
    for form, (direct, tunnel) in results.items():
        print(f"{form:<6} {direct:>10.1f} {tunnel:>10.1f} {tunnel / direct:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
