"""The request inspector's cost: memory with 500 captured requests, and the time of
``GET /api/requests/http?limit=50``.

The mix, 500 requests: 440 small JSON API calls (~200 B each way), 50 HTML pages (10 KB
responses), 10 uploads of 1 MB (answered with a small JSON). Memory is what tracemalloc sees held
after filling the ring (Python objects and bodies: the ring is their only holder, as in the
agent), and the process's RSS growth.
"""

from __future__ import annotations

import gc
import http.client
import json
import resource
import statistics
import time
import tracemalloc

from tunnel_cli.inspector.server import Inspector, TunnelView
from tunnel_cli.inspector.traffic import Exchange, Traffic

RUNS = 30


def _exchange(index: int) -> Exchange:
    headers = [
        ("Host", "demo.tunnel.test"),
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/150.0"),
        ("Accept", "*/*"),
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-Proto", "https"),
        ("Cookie", "session=" + "s" * 64),
    ]
    if index % 50 == 0:  # 10 uploads of 1 MB
        request, response, kind = b"u" * 1_000_000, b'{"stored": true}', "application/json"
        method, target = "POST", f"/upload/{index}"
    elif index % 10 == 1:  # 50 HTML pages
        request, response, kind = b"", b"<p>" + b"x" * 10_000 + b"</p>", "text/html"
        method, target = "GET", f"/page/{index}"
    else:  # 440 small JSON calls
        request = json.dumps({"id": index, "name": "item", "tags": ["a", "b"]}).encode() * 4
        response, kind = request, "application/json"
        method, target = "POST", f"/api/items/{index}?expand=1"
    return Exchange(
        tunnel_name="demo",
        started=time.time(),
        duration=0.004,
        method=method,
        target=target,
        request_headers=[*headers, ("Content-Type", kind), ("Content-Length", str(len(request)))],
        request_body=request,
        request_size=len(request),
        status=200,
        response_headers=[("Content-Type", kind), ("Content-Length", str(len(response)))],
        response_body=response,
        response_size=len(response),
    )


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    # Each exchange is made and handed over as the agent does, then held by the ring alone.
    gc.collect()
    rss_before = _rss_kb()
    tracemalloc.start()
    traffic = Traffic()
    for index in range(500):
        traffic.add(_exchange(index))
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = _rss_kb()
    print(
        f"inspector: 500 captured requests (440 small JSON, 50 x 10 KB HTML, 10 x 1 MB uploads): "
        f"ring {traffic.bytes / 1e6:.1f} MB counted, {current / 1e6:.1f} MB allocated "
        f"(tracemalloc), RSS +{(rss_after - rss_before) / 1000:.1f} MB"
    )
    view = TunnelView("demo", "127.0.0.1", 9, 5.0, "https://demo.tunnel.test")
    inspector = Inspector(traffic, lambda: [view])
    inspector.start("127.0.0.1", 0)
    try:
        for query, label in (("limit=50", "full"), ("limit=50&summary=1", "summary")):
            times, size = [], 0
            for _ in range(RUNS):
                connection = http.client.HTTPConnection("127.0.0.1", inspector.port, timeout=30)
                started = time.perf_counter()
                connection.request("GET", f"/api/requests/http?{query}")
                size = len(connection.getresponse().read())
                times.append(time.perf_counter() - started)
                connection.close()
            print(
                f"inspector: GET /api/requests/http?{query} ({label}, {size / 1e6:.2f} MB): "
                f"median {statistics.median(times) * 1000:.1f} ms over {RUNS}"
            )
    finally:
        inspector.close()


if __name__ == "__main__":
    main()
