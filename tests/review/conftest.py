"""One emulator for the review tests, and a project copy the review CLI runs in.

The copy (config, templates, functions) is what ``tests/local`` launches too; here the real
``python -m review`` runs with its cwd there and the emulator's environment, as `make review`
would run it against AWS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator import process
from tests.conftest import PROJECT


@dataclass
class Run:
    returncode: int
    output: str


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    handle = process.start()
    try:
        yield handle.url
    finally:
        process.stop(handle)


@pytest.fixture(scope="session")
def cloudformation(emulator_url: str) -> Any:
    environment = process.client_environment(emulator_url)
    return boto3.session.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_DEFAULT_REGION"],
    ).client("cloudformation", endpoint_url=emulator_url)


class ReviewProject:
    """A project copy that tests may change, and the review CLI run inside it."""

    def __init__(self, root: Path, environment: dict[str, str], cloudformation: Any) -> None:
        self.root = root
        self.environment = environment
        self.cloudformation = cloudformation

    def review(self, *args: str) -> Run:
        result = subprocess.run(
            [sys.executable, "-m", "review", *args, "--no-colour"],
            cwd=self.root,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return Run(result.returncode, result.stdout + result.stderr)

    def record(self, environment: str = "dev") -> dict[str, Any]:
        return json.loads((self.root / "build" / "review" / f"{environment}.json").read_text())

    def stacks(self) -> dict[str, tuple[str, Any]]:
        """dev stack -> (status, last updated): an executed change set changes it."""
        described = self.cloudformation.describe_stacks()["Stacks"]
        return {
            s["StackName"].removeprefix("http-tunnel-dev-"): (
                s["StackStatus"],
                s.get("LastUpdatedTime"),
            )
            for s in described
            if s["StackName"].startswith("http-tunnel-dev-")
        }


@pytest.fixture(scope="module")
def review_project(
    tmp_path_factory: pytest.TempPathFactory, emulator_url: str, cloudformation: Any
) -> ReviewProject:
    root = tmp_path_factory.mktemp("review-project")
    for folder in ("config", "templates", "functions"):
        shutil.copytree(
            PROJECT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),  # no ~/.aws: the emulator's dummy credentials only
        **process.client_environment(emulator_url),
    }
    return ReviewProject(root, environment, cloudformation)
