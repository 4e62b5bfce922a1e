"""``python -m local_gateway``: refuses to listen beyond loopback, and explains what is missing."""

from __future__ import annotations

import subprocess
import sys

from local_gateway.testing import REPO_ROOT


def run_gateway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "local_gateway", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_non_loopback_host_is_refused():
    for host in ("0.0.0.0", "192.168.1.10", "example.com"):
        refused = run_gateway("--host", host)
        assert refused.returncode == 2
        assert "is not a loopback address" in refused.stderr


def test_an_environment_that_was_not_launched_is_explained(launched):
    missing = run_gateway("--environment", "staging", "--port", "1", env={**launched.environment})
    assert missing.returncode == 2
    assert "stack http-tunnel-staging-apis does not exist" in missing.stderr
    assert "make local" in missing.stderr
    assert "Traceback" not in missing.stderr
