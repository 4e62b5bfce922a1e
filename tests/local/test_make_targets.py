"""The local stack through its make targets, as the README runs them: on ports other than the
defaults, two checkouts beside each other, a target aimed at the wrong port, and the hints the
tools print working as printed in a fresh shell."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from emulator import process
from tests.conftest import PROJECT
from tunnel_infra import local_stack

# What a fresh clone holds: the project's own files, not its virtualenvs or build/.
SKIPPED = shutil.ignore_patterns(
    ".git", ".venv*", "build", "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info"
)


# make's command-line variables, through the environment: the checkout uses this run's virtualenvs.
VIRTUALENVS = f"VENV={PROJECT / '.venv'} EMULATOR_VENV={PROJECT / '.venv-emulator'}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Checkout:
    """A copy of the repository whose make targets use this run's virtualenvs (mtimes are kept,
    so make sees them up to date) and whose emulator state is its own build/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copytree(PROJECT, root, ignore=SKIPPED)  # copy2: modification times kept
        self.emulator_port = free_port()
        self.gateway_port = free_port()

    @property
    def ports(self) -> list[str]:
        return [f"EMULATOR_PORT={self.emulator_port}", f"GATEWAY_PORT={self.gateway_port}"]

    def environment(self) -> dict[str, str]:
        # A fresh shell: no AWS settings, no activated virtualenv, no ~/.aws.
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "EMULATOR_PYTHON": str(PROJECT / ".venv-emulator" / "bin" / "python"),
        }

    def shell(self, command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """``command`` as a user types it, in this checkout, with this run's virtualenvs."""
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.root,
            env={**self.environment(), "MAKEFLAGS": VIRTUALENVS},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def make(self, *arguments: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.shell(" ".join(["make", *arguments]), timeout)

    def http_api_id(self) -> str:
        settings = process.client_environment(f"http://127.0.0.1:{self.emulator_port}")
        cloudformation = boto3.client(
            "cloudformation",
            endpoint_url=settings["AWS_ENDPOINT_URL"],
            region_name=settings["AWS_DEFAULT_REGION"],
            aws_access_key_id=settings["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=settings["AWS_SECRET_ACCESS_KEY"],
        )
        stack = cloudformation.describe_stacks(StackName="http-tunnel-dev-apis")["Stacks"][0]
        return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "HttpApiId")

    def stop(self) -> None:
        self.make("emulator-stop", timeout=60)


@pytest.fixture(scope="module")
def checkouts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Checkout]]:
    made = [Checkout(tmp_path_factory.mktemp(f"clone{n}") / "repo") for n in range(2)]
    try:
        yield made
    finally:
        for checkout in made:
            checkout.stop()


def test_the_makefile_and_the_hints_agree_on_the_default_ports():
    makefile = (PROJECT / "Makefile").read_text()
    assert f"EMULATOR_PORT ?= {local_stack.EMULATOR_PORT}\n" in makefile
    assert f"GATEWAY_PORT ?= {local_stack.GATEWAY_PORT}\n" in makefile


def test_two_local_stacks_run_beside_each_other_on_their_own_ports(checkouts):
    first, second = checkouts
    launched = [checkout.make("local", *checkout.ports) for checkout in checkouts]
    for checkout, result in zip(checkouts, launched, strict=True):
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        # It ends with what works here, on its own ports, and the commands to run next.
        assert f"ws://127.0.0.1:{checkout.gateway_port}/dev" in result.stdout
        assert f"make tunnel-local {' '.join(checkout.ports)}" in result.stdout
        assert "amazonaws.com" not in result.stdout.split("URLs here")[1]
    # Two deployments, one per emulator: each its own APIs.
    assert len({checkout.http_api_id() for checkout in checkouts}) == 2
    # Each checkout's tokens are its own stack's: issued and listed with nothing exported.
    for checkout in checkouts:
        token = checkout.make("-s", "token-local", *checkout.ports, "TOKEN_ARGS='--subdomain x'")
        assert token.returncode == 0 and token.stdout.startswith("v1."), token.stderr
    listed = [
        checkout.make("-s", "token-local", *checkout.ports, "TOKEN_ARGS=list")
        for checkout in checkouts
    ]
    assert all(result.stdout.count("\n") == 2 for result in listed), listed


def test_a_target_aimed_at_a_port_where_its_emulator_is_not_stops_with_one_line(checkouts):
    first, second = checkouts
    wrong = f"EMULATOR_PORT={second.emulator_port}"
    for target in (
        "tunnel-local",
        "local-down",
        "sync-local",
        "review-local",
        "token-local",
        "drift-local",
    ):
        result = first.make(target, wrong, f"GATEWAY_PORT={first.gateway_port}")
        assert result.returncode != 0, target
        refusal = [line for line in result.stderr.splitlines() if not line.startswith("make")]
        assert refusal == [
            f"this checkout's emulator runs on port {first.emulator_port} (pid "
            + refusal[0].split("(pid ")[1]
        ], (target, result.stderr)
        assert f"not on {wrong}" in refusal[0]
    # make local there starts nothing and launches nothing.
    result = first.make("local", wrong)
    assert result.returncode != 0 and "sceptre" not in result.stdout, result.stdout
    # The other checkout's stack was never touched: it still has its one token.
    listed = second.make("-s", "token-local", *second.ports, "TOKEN_ARGS=list")
    assert listed.stdout.count("\n") == 2, listed


def test_the_review_hint_works_as_printed_in_a_fresh_shell(checkouts):
    first, _ = checkouts
    config = first.root / "config" / "dev" / "config.yaml"
    config.write_text(
        re.sub(r"log_retention_days: \d+", "log_retention_days: 14", config.read_text())
    )
    reviewed = first.make("review-local", *first.ports, "REVIEW_ARGS=--no-colour")
    assert reviewed.returncode == 0, reviewed.stdout[-3000:] + reviewed.stderr[-2000:]
    hint = re.search(r"Result: ready to deploy .*?: (make .*)$", reviewed.stdout, re.MULTILINE)
    assert hint, reviewed.stdout[-2000:]
    assert hint[1] == f"make deploy-local EMULATOR_PORT={first.emulator_port}"
    deployed = first.shell(hint[1])
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-2000:]
    again = first.make("review-local", *first.ports, "REVIEW_ARGS=--no-colour")
    assert "Result: no changes" in again.stdout, again.stdout[-2000:]


def test_local_down_says_that_tokens_and_urls_go_with_the_stacks(checkouts):
    _, second = checkouts
    result = second.make("local-down", *second.ports)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "every token" in result.stdout and "tunnel URL" in result.stdout


def test_a_review_of_dev_without_credentials_names_the_local_targets(tmp_path):
    checkout = PROJECT
    result = subprocess.run(
        [str(PROJECT / ".venv" / "bin" / "python"), "-m", "review", "plan", "dev"],
        cwd=checkout,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "make review-local" in line and "make deploy-local" in line, line
