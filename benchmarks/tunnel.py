"""``make bench`` (second part): what the tunnel adds, on one machine.

Emulator, launched dev, local gateway, a local app and the `tunnel` agent, as in
tests/tunnel (whose harness this reuses). Measured side by side in one run:
- added latency: the same small request to the local app through the tunnel and directly, one
  after the other; p50/p95/p99 of each and of the difference; and, interleaved with them,
  through the whole project as it was at ``--baseline`` (the polled design by default: its own
  emulator, launch, gateway and agent, in processes of its own), so each change is measured
  against the code before it, side by side (issue 19: answers pushed on the forwarding
  container's own socket, against the pending item polled);
- large bodies: 1 MiB and 4 MiB downloads and uploads through the tunnel and directly,
  interleaved; medians, MB/s and the ratio;
- throughput at 1 and 16 concurrent clients, of this tree and of the baseline;
- DynamoDB operations per request while waiting (from the forwarding function's log lines:
  ``livenessChecks`` here, the baseline's polling ``reads``).
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


PROJECT = Path(__file__).resolve().parent.parent
# What the tree is measured against, side by side: the last revision whose forwarding wrote a
# pending item and polled it (issue 19 replaced that with answers pushed to its own socket).
BASELINE_REVISION = "ee15ce3"
LARGE_SIZES = (1024 * 1024, 4 * 1024 * 1024)


def baseline_tree(revision: str, into: Path) -> Path:
    """The whole project as it was at ``revision``, in ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", revision], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


# Run in the baseline tree: its own tunnel, until stdin closes. Its packages come first on
# sys.path and PYTHONPATH (Sceptre's plugins and the agent included), the virtualenvs are ours.
BASELINE_SCRIPT = """
import os, pathlib, sys, tempfile
sys.path[:0] = [os.getcwd(), os.path.join(os.getcwd(), "functions")]
from tests.tunnel import conftest as harness
own_environment = harness.emulator_environment
harness.emulator_environment = lambda root, url: {
    **own_environment(root, url), "PYTHONPATH": os.environ["PYTHONPATH"]
}
with harness.running_tunnel(pathlib.Path(tempfile.mkdtemp(prefix="bench-baseline-"))) as t:
    t.agent(t.token("base")).wait_for(r"^Forwarding ")
    print("READY", t.gateway.port, t.gateway.host("base"), t.gateway.target("base", "/"),
          flush=True)
    sys.stdin.read()
"""


@dataclasses.dataclass
class Baseline:
    """The baseline's tunnel, reached like ours: its gateway's port, host and path prefix."""

    process: subprocess.Popen[str]
    port: int
    host: str
    prefix: str

    @classmethod
    def start(cls, root: Path) -> Baseline:
        process = subprocess.Popen(
            [sys.executable, "-c", BASELINE_SCRIPT],
            cwd=root,
            env={
                **os.environ,
                "PYTHONPATH": f"{root}{os.pathsep}{root / 'functions'}",
                "EMULATOR_PYTHON": str(PROJECT / ".venv-emulator" / "bin" / "python"),
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("READY "):
                _, port, host, prefix = line.split()
                return cls(process, int(port), host, prefix.rstrip("/"))
        raise RuntimeError(f"the baseline tunnel did not start (exit {process.wait()})")

    def through(self) -> float:
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("GET", f"{self.prefix}/echo?bench=1", headers={"Host": self.host})
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == 200, response.status
        return time.perf_counter() - started

    def throughput(self, clients: int, requests: int) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(lambda _: self.through(), range(requests)))
        return requests / (time.perf_counter() - started)

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def timed(call) -> float:  # noqa: ANN001
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def download_through(tunnel: harness.Tunnel, size: int) -> None:
    status, _, data = tunnel.request("bench", "GET", f"/bytes/{size}")
    assert status == 200 and len(data) == size, status


def download_direct(port: int, size: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", f"/bytes/{size}")
    assert len(connection.getresponse().read()) == size
    connection.close()


def upload_through(tunnel: harness.Tunnel, body: bytes) -> None:
    status, _, _ = tunnel.request("bench", "POST", "/sha256", body=body)
    assert status == 200, status


def upload_direct(port: int, body: bytes) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/sha256", body=body)
    connection.getresponse().read()
    connection.close()


def large_bodies(tunnel: harness.Tunnel, rounds: int) -> dict[tuple[str, int], tuple]:
    """(direction, size) -> (tunnel samples, direct samples), interleaved."""
    port = tunnel.app.port
    results: dict[tuple[str, int], tuple[list[float], list[float]]] = {}
    for size in LARGE_SIZES:
        body = os.urandom(size)
        download_through(tunnel, size), upload_through(tunnel, body)  # warm
        down, down_direct, up, up_direct = [], [], [], []
        for _ in range(rounds):
            down.append(timed(lambda: download_through(tunnel, size)))  # noqa: B023
            down_direct.append(timed(lambda: download_direct(port, size)))  # noqa: B023
            up.append(timed(lambda: upload_through(tunnel, body)))  # noqa: B023
            up_direct.append(timed(lambda: upload_direct(port, body)))  # noqa: B023
        results[("download", size)] = (down, down_direct)
        results[("upload", size)] = (up, up_direct)
    return results


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
    parser.add_argument("--large-rounds", type=int, default=10)
    parser.add_argument("--baseline", default=BASELINE_REVISION, help="git revision")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-tunnel-"))
    baseline = Baseline.start(baseline_tree(args.baseline, scratch / "baseline"))
    try:
        with harness.running_tunnel(scratch / "project") as tunnel:
            try:
                # The inspector on, as `tunnel http` runs by default: its capture is measured too.
                inspected = ("--inspect-addr", "127.0.0.1:0")
                tunnel.agent(tunnel.token("bench"), None, *inspected).wait_for(r"^Forwarding ")
                for _ in range(10):  # warm: imports, clients, connections
                    through(tunnel), baseline.through()
                    direct(tunnel.app.port)
                rounds = [
                    (through(tunnel), direct(tunnel.app.port), baseline.through())
                    for _ in range(args.requests)
                ]
                large = large_bodies(tunnel, args.large_rounds)
                one = throughput(tunnel, 1, 50)
                sixteen = throughput(tunnel, 16, 160)
                base_one = baseline.throughput(1, 50)
                base_sixteen = baseline.throughput(16, 160)
                checks = forwarding_field(tunnel.gateway.log(), "livenessChecks")
            except BaseException:
                # The tunnel is several processes: say what they said.
                print(tunnel.gateway.log_tail(60), file=sys.stderr)
                for agent in tunnel.agents:
                    print("\n".join(agent.lines[-20:]), file=sys.stderr)
                raise
    finally:
        baseline.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    tunnelled = [ours for ours, _, _ in rounds]
    plain = [plain for _, plain, _ in rounds]
    added = [ours - plain for ours, plain, _ in rounds]
    baseline_added = [base - plain for _, plain, base in rounds]

    print(f"\n{'tunnel (ms)':<26} {'p50':>8} {'p95':>8} {'p99':>8}   n={args.requests}")
    for name, samples in (
        ("through the tunnel", tunnelled),
        ("direct", plain),
        ("added", added),
        (f"added, {args.baseline}", baseline_added),
    ):
        row = [percentile(samples, f) * 1000 for f in (0.50, 0.95, 0.99)]
        print(f"{name:<26} {row[0]:>8.1f} {row[1]:>8.1f} {row[2]:>8.1f}")
    for fraction, label in ((0.50, "p50"), (0.95, "p95")):
        ours, base = percentile(added, fraction), percentile(baseline_added, fraction)
        print(f"added {label}, this tree / {args.baseline}: {ours / base:.2f}")

    print(f"\n{'large bodies':<18} {'tunnel ms':>10} {'direct ms':>10} {'ratio':>7} {'MB/s':>7}")
    for (direction, size), (through_samples, direct_samples) in large.items():
        median, plain_median = (statistics.median(s) for s in (through_samples, direct_samples))
        label = f"{direction} {size // (1024 * 1024)} MiB"
        print(
            f"{label:<18} {median * 1000:>10.1f} {plain_median * 1000:>10.1f} "
            f"{median / plain_median:>7.1f} {size / median / 1e6:>7.1f}"
        )
    for direction in ("download", "upload"):
        small, big = (statistics.median(large[(direction, size)][0]) for size in LARGE_SIZES)
        per_mb = (big - small) / ((LARGE_SIZES[1] - LARGE_SIZES[0]) / 1e6)
        print(f"{direction}: {per_mb * 1000:.1f} ms per MB beyond the first")
    print(f"\n{'throughput (requests/s)':<26} {'1 client':>9} {'16 clients':>11}")
    print(f"{'this tree':<26} {one:>9.1f} {sixteen:>11.1f}")
    print(f"{args.baseline:<26} {base_one:>9.1f} {base_sixteen:>11.1f}")
    if checks:
        print(
            f"\nDynamoDB reads per request while waiting (claim liveness checks): median "
            f"{statistics.median(checks):.0f}, max {max(checks)} (n={len(checks)}); plus the "
            "claim read, the lease update and its release, and the token record at most every "
            "5 s: 3 operations per request, against the baseline's pending put, delete, "
            "response update and its polling reads"
        )
    return 0


def forwarding_field(log: str, name: str) -> list[int]:
    """A number each forwarding log line has (``livenessChecks``, ``reads``)."""
    return [
        line[name]
        for line in map(_json, log.splitlines())
        if line and line.get("function") == "forwarding" and name in line
    ]


def _json(line: str) -> dict | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


if __name__ == "__main__":
    sys.exit(main())
