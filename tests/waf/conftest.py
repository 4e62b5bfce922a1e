"""The shared emulator of tests/emulator, and the stand-in edge template rendered per settings."""

from __future__ import annotations

from tests.emulator.conftest import aws, emulator_endpoint, stacks  # noqa: F401
