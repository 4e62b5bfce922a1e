"""``make bench`` (second part): what the tunnel adds, on one machine.

Emulator, launched dev, local gateway, a local app and the `tunnel` agent, as in
tests/tunnel (whose harness this reuses). Measured side by side in one run:
- added latency: the same request to the local app through the tunnel and directly, one after
  the other; p50/p95/p99 of each and of the difference; and, interleaved with them, through a
  second gateway whose forwarding polls as prior art does (50 ms first, doubling to 500 ms);
- throughput at 1 and 16 concurrent clients;
- DynamoDB reads per request in the forwarding function's waiting loop (from its log lines).
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local_gateway import testing as gateway_testing  # noqa: E402
from tests.tunnel import conftest as harness  # noqa: E402


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def direct(port: int) -> float:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/echo?bench=1")
    connection.getresponse().read()
    connection.close()
    return time.perf_counter() - started


PRIOR_ART_POLLING = {"POLL_FIRST_SECONDS": "0.05", "POLL_GROWTH": "2", "POLL_MAX_SECONDS": "0.5"}


def through(tunnel: harness.Tunnel, subdomain: str = "bench") -> float:
    started = time.perf_counter()
    status, _, _ = tunnel.request(subdomain, "GET", "/echo?bench=1")
    assert status == 200, status
    return time.perf_counter() - started


def throughput(tunnel: harness.Tunnel, clients: int, requests: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda _: through(tunnel), range(requests)))
    return requests / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    with harness.running_tunnel(Path(tempfile.mkdtemp(prefix="bench-tunnel-"))) as tunnel:
        prior_gateway = gateway_testing.start(
            env={**tunnel.environment, **PRIOR_ART_POLLING},
            functions_dir=tunnel.root / "functions",
        )
        prior = dataclasses.replace(tunnel, gateway=prior_gateway, agents=[])
        try:
            tunnel.agent(tunnel.token("bench")).wait_for(r"^Forwarding ")
            prior.agent(prior.token("prior")).wait_for(r"^Forwarding ")
            for _ in range(10):  # warm: imports, clients, connections
                through(tunnel), through(prior, "prior"), direct(tunnel.app.port)
            rounds = [
                (through(tunnel), through(prior, "prior"), direct(tunnel.app.port))
                for _ in range(args.requests)
            ]
            one = throughput(tunnel, 1, 50)
            sixteen = throughput(tunnel, 16, 160)
            reads = forwarding_reads(tunnel.gateway.log())
            prior_reads = forwarding_reads(prior_gateway.log())
        finally:
            for agent in prior.agents:
                agent.stop()
            gateway_testing.stop(prior_gateway)
    tunnelled = [ours for ours, _, _ in rounds]
    plain = [plain for _, _, plain in rounds]
    added = [ours - plain for ours, _, plain in rounds]
    prior_added = [theirs - plain for _, theirs, plain in rounds]

    print(f"\n{'tunnel (ms)':<26} {'p50':>8} {'p95':>8} {'p99':>8}   n={args.requests}")
    for name, samples in (
        ("through the tunnel", tunnelled),
        ("direct", plain),
        ("added", added),
        ("added, prior-art polling", prior_added),
    ):
        row = [percentile(samples, f) * 1000 for f in (0.50, 0.95, 0.99)]
        print(f"{name:<26} {row[0]:>8.1f} {row[1]:>8.1f} {row[2]:>8.1f}")
    print(f"\nthroughput, 1 client:    {one:6.1f} requests/s")
    print(f"throughput, 16 clients:  {sixteen:6.1f} requests/s ({sixteen / one:.1f}x)")
    for name, samples in (("10 ms, x1.5, cap 100 ms", reads), ("prior art", prior_reads)):
        if samples:
            print(
                f"DynamoDB reads per request while waiting ({name}): median "
                f"{statistics.median(samples):.0f}, mean {statistics.mean(samples):.1f}, "
                f"max {max(samples)} (n={len(samples)})"
            )
    return 0


def forwarding_reads(log: str) -> list[int]:
    return [
        line["reads"]
        for line in map(_json, log.splitlines())
        if line and line.get("function") == "forwarding" and "reads" in line
    ]


def _json(line: str) -> dict | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


if __name__ == "__main__":
    sys.exit(main())
