"""The public edge of an environment with a custom domain, end to end: the REST API's web ACL
sharing it fairly (per client IP, per tunnel), a 100 MB download streamed through it, and a
stream its caller abandons freeing the local app's connection.

Every request goes to the URL the agent printed (``http://<subdomain>.localhost:<port>``): a
connection to 127.0.0.1 with that Host (testing.py: ``*.localhost`` does not resolve
everywhere). A caller's IP is the loopback address its socket binds (Linux routes all of
127.0.0.0/8 to lo), so one machine plays several clients.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import json
import random
import re
import time
from urllib.parse import urlsplit

from tunnel_shared.limits import STREAM_PART_BYTES

from tests.apps.launch import public_url
from tests.edge.app import DOWNLOAD_BYTES, download_sha256
from tests.edge.conftest import PER_CLIENT, PER_TUNNEL, WINDOW_SECONDS, Edge
from tunnel_infra.aws.wafv2 import RATE_LIMITED_STATUS, rate_limited_body

FLOODER = "127.0.0.3"
OTHER_CLIENT = "127.0.0.2"
# Several callers of one tunnel, each far under per_client when together they pass per_tunnel.
CROWD = ("127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13")
# No flood goes on for ever if a rule never blocks.
FLOOD_CAP = 3 * PER_TUNNEL
READ_BYTES = 1024 * 1024
CLOSED_WITHIN_SECONDS = 2.0
JSON_LINE = re.compile(r"^\{.*\}$", re.MULTILINE)


def connect(url: str, source: str = "127.0.0.1", timeout: float = 60) -> http.client.HTTPConnection:
    """A connection to the agent's public URL from the loopback address ``source``."""
    port = urlsplit(url).port
    assert port is not None, url
    return http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )


def get(url: str, target: str, source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    connection = connect(url, source)
    try:
        connection.request("GET", target, headers={"Host": urlsplit(url).netloc})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def flood(url: str, sources: tuple[str, ...]) -> tuple[int, tuple[int, dict[str, str], bytes]]:
    """GET /hello from ``sources`` in turn until the first answer that is not a 200: how many
    passed, and that answer."""
    for passed, source in zip(range(FLOOD_CAP), itertools.cycle(sources)):
        status, headers, body = get(url, "/hello", source)
        if status != 200:
            return passed, (status, headers, body)
    raise AssertionError(f"{FLOOD_CAP} requests from {sources} all passed: no rate rule blocked")


def assert_rate_limited(answer: tuple[int, dict[str, str], bytes]) -> None:
    status, headers, body = answer
    assert status == RATE_LIMITED_STATUS, (status, body)
    assert headers.get("Retry-After") == str(WINDOW_SECONDS), headers
    assert body.decode() == rate_limited_body(WINDOW_SECONDS)


def test_a_flood_is_limited_per_client_then_per_tunnel(edge: Edge) -> None:
    calm, _ = public_url(edge.tunnel, "calm", edge.app.port)
    crowded, _ = public_url(edge.tunnel, "crowded", edge.app.port)

    # One client floods a tunnel: the per-client rule blocks it past its limit, exactly there
    # (the local web ACL counts exactly; AWS WAF estimates, so a flood there passes a while).
    passed, refused = flood(calm, (FLOODER,))
    assert passed == PER_CLIENT
    assert_rate_limited(refused)
    assert set(edge.app.forwarded_for) == {FLOODER}  # the edge saw the flooder's own address
    for _ in range(3):
        assert_rate_limited(get(calm, "/hello", FLOODER))
    # Another client of the same tunnel is not held back by it.
    status, _, body = get(calm, "/hello", OTHER_CLIENT)
    assert (status, body) == (200, b"hello\n")
    assert edge.app.forwarded_for[-1] == OTHER_CLIENT

    # Many clients of one tunnel, each under per_client: the per-tunnel rule blocks the tunnel.
    passed, refused = flood(crowded, CROWD)
    assert passed == PER_TUNNEL
    assert_rate_limited(refused)
    assert set(edge.app.forwarded_for[-PER_TUNNEL:]) == set(CROWD)
    assert_rate_limited(get(crowded, "/hello", OTHER_CLIENT))  # any client of that tunnel
    # Another tunnel still passes.
    status, _, body = get(calm, "/hello", OTHER_CLIENT)
    assert (status, body) == (200, b"hello\n")


def test_a_100_mb_download_streams_whole(edge: Edge) -> None:
    url, _ = public_url(edge.tunnel, "bulk", edge.app.port)
    expected = download_sha256()
    connection = connect(url, timeout=120)
    started = time.monotonic()
    try:
        connection.request("GET", "/download", headers={"Host": urlsplit(url).netloc})
        response = connection.getresponse()
        assert response.status == 200, response.read(2000)
        digest = hashlib.sha256()
        received = 0
        # Read and hashed a MB at a time: never the whole body in memory.
        while chunk := response.read(READ_BYTES):
            digest.update(chunk)
            received += len(chunk)
    finally:
        connection.close()
    seconds = time.monotonic() - started
    megabytes = received / (1024 * 1024)
    print(
        f"\n100 MB download: {megabytes:.1f} MB in {seconds:.1f} s, {megabytes / seconds:.2f} MB/s"
    )
    assert received == DOWNLOAD_BYTES
    assert digest.hexdigest() == expected
    # A fast body crosses as parts through S3, a chunk message each, not as ~96 KB messages:
    # the agents' stage carries about one message per part_bytes (the response function logs
    # one line per chunk it relays, saying whether its part was stored).
    assert edge.tunnel.gateway is not None
    by_request: dict[str, list[dict]] = {}
    for line in (json.loads(text) for text in JSON_LINE.findall(edge.tunnel.gateway.log())):
        if line.get("function") == "response" and "seq" in line:
            by_request.setdefault(line["requestId"], []).append(line)
    # This download's chunks: the other tests' streamed answers here are a few bytes each.
    relayed = max(by_request.values(), key=lambda lines: sum(line["bytes"] for line in lines))
    stored = [line for line in relayed if line.get("stored")]
    assert sum(line["bytes"] for line in relayed) == DOWNLOAD_BYTES
    assert len(relayed) <= 2 * DOWNLOAD_BYTES // STREAM_PART_BYTES, len(relayed)
    assert sum(line["bytes"] for line in stored) > DOWNLOAD_BYTES * 0.9


def test_a_binary_upload_reaches_the_app_byte_for_byte(edge: Edge) -> None:
    """The REST API takes every body as binary (BinaryMediaTypes */*): bytes that are not
    UTF-8 cross unchanged, 1 KiB and 4 MiB (as text they would be mangled, and 4 MiB of them
    would swell the event past Lambda's 6 MB)."""
    url, _ = public_url(edge.tunnel, "uploads", edge.app.port)
    for size in (1024, 4 * 1024 * 1024):
        body = random.Random(size).randbytes(size)
        connection = connect(url)
        try:
            connection.request(
                "POST",
                "/sha256",
                body=body,
                headers={"Host": urlsplit(url).netloc, "Content-Type": "application/octet-stream"},
            )
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        assert (response.status, answer.decode()) == (200, hashlib.sha256(body).hexdigest()), size


def test_an_abandoned_stream_frees_the_local_connection(edge: Edge) -> None:
    url, _ = public_url(edge.tunnel, "events", edge.app.port)
    connection = connect(url)
    connection.request("GET", "/events", headers={"Host": urlsplit(url).netloc})
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    assert response.readline() == b"data: 0\n"
    assert not edge.app.events_closed.is_set()
    # The caller goes: its socket closes (the response holds the socket's file too).
    response.close()
    connection.close()
    left = time.monotonic()
    closed = edge.app.events_closed.wait(CLOSED_WITHIN_SECONDS)
    print(f"\nabandoned stream: the app's connection closed {time.monotonic() - left:.2f} s later")
    assert closed, (
        f"the app's event stream was still open {CLOSED_WITHIN_SECONDS} s after its caller left "
        f"({edge.app.events_sent} events sent)"
    )
