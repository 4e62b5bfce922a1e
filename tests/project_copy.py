"""A copy of the Sceptre project that a test may change and launch, and the environment that
points Sceptre and boto3 at an emulator (dummy credentials, no ~/.aws)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from emulator import process
from tests.conftest import PROJECT

FOLDERS = ("config", "templates", "functions")


def copy_project(root: Path) -> Path:
    for folder in FOLDERS:
        shutil.copytree(
            PROJECT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    return root


def emulator_environment(root: Path, emulator_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),  # no ~/.aws: the emulator's dummy credentials only
        **process.client_environment(emulator_url),
    }
