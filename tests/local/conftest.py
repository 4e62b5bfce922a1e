"""A project copy launched with the real Sceptre CLI against its own emulator."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from emulator import process
from tests.project_copy import copy_project, emulator_environment

SCEPTRE = Path(sys.executable).parent / "sceptre"
UPLOADED = re.compile(r"function (\w+): (functions/\S+\.zip) uploaded")
SKIPPED = re.compile(r"function (\w+): (functions/\S+\.zip) unchanged, skipped")


@dataclass
class Launch:
    returncode: int
    output: str

    @property
    def uploaded(self) -> list[str]:
        return UPLOADED.findall(self.output)

    @property
    def skipped(self) -> list[str]:
        return SKIPPED.findall(self.output)


class LocalProject:
    """A copy of the Sceptre project (config, templates, functions) that tests may change."""

    def __init__(self, root: Path, environment: dict[str, str]) -> None:
        self.root = root
        self.environment = environment
        self.session = boto3.session.Session(
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
            region_name=environment["AWS_DEFAULT_REGION"],
        )

    def client(self, service: str):  # noqa: ANN201
        return self.session.client(service, endpoint_url=self.environment["AWS_ENDPOINT_URL"])

    def sceptre(self, *args: str) -> Launch:
        result = subprocess.run(
            [str(SCEPTRE), "--no-colour", *args],
            cwd=self.root,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return Launch(result.returncode, result.stdout + result.stderr)


@contextmanager
def project_on_its_own_emulator(
    tmp_path_factory: pytest.TempPathFactory, name: str, **emulator_env: str
) -> Iterator[LocalProject]:
    """A fresh project copy and an emulator of its own (started with ``emulator_env`` set)."""
    root = tmp_path_factory.mktemp(name)
    copy_project(root)
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in emulator_env.items():
            patch.setenv(variable, value)
        handle = process.start()
    try:
        yield LocalProject(root, emulator_environment(root, handle.url))
    finally:
        process.stop(handle)


@pytest.fixture(scope="module")
def local_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProject]:
    with project_on_its_own_emulator(tmp_path_factory, "project") as project:
        yield project
