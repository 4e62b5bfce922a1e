"""prod and staging carry Sceptre's ``protect: true``, so a stray ``sceptre delete`` is refused.

The key is ``protect`` (``protected`` is silently ignored), set once per environment in
``config/<env>/config.yaml``; Sceptre's reader hands it down to every stack. Sceptre checks it
before it calls AWS, so the refusal is proven offline: the endpoint below is a closed port, and
any AWS call would fail with a connection error instead.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sceptre.context import SceptreContext
from sceptre.plan.plan import SceptrePlan

from emulator import process
from tests.conftest import PROJECT

SCEPTRE = Path(sys.executable).parent / "sceptre"


def protection(environment: str) -> dict[str, bool]:
    plan = SceptrePlan(SceptreContext(project_path=str(PROJECT), command_path=environment))
    return {stack.name: stack.protected for stack in plan.command_stacks}


@pytest.mark.parametrize("environment", ["prod", "staging"])
def test_every_prod_and_staging_stack_is_protected(environment):
    stacks = protection(environment)
    stack_files = [p for p in (PROJECT / "config" / environment).glob("*.yaml")]
    assert len(stacks) == len(stack_files) - 1  # every file but config.yaml is a stack
    assert set(stacks.values()) == {True}, stacks


def test_dev_stays_unprotected_for_make_local():
    assert set(protection("dev").values()) == {False}


def test_no_stack_file_uses_the_ignored_protected_key():
    offenders = [
        str(path.relative_to(PROJECT))
        for path in (PROJECT / "config").rglob("*.yaml")
        if any(line.split(":")[0].strip() == "protected" for line in path.read_text().splitlines())
    ]
    assert offenders == []


def sceptre_offline(tmp_path: Path, *args: str) -> tuple[int, str]:
    """Sceptre pointed at a closed port: any AWS call would fail with a connection error."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        # Bound and never listening: connections are refused, and no other process can start
        # listening there while Sceptre runs.
        closed.bind(("127.0.0.1", 0))
        result = subprocess.run(
            [str(SCEPTRE), "--no-colour", *args],
            cwd=PROJECT,
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
                **process.client_environment(f"http://127.0.0.1:{closed.getsockname()[1]}"),
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
    return result.returncode, result.stdout + result.stderr


def test_sceptre_delete_prod_is_refused_before_any_aws_call(tmp_path):
    returncode, output = sceptre_offline(tmp_path, "delete", "-y", "prod")
    assert returncode == 1, output
    assert "Cannot perform action on 'prod/" in output
    assert "Stack protection is currently enabled" in output
    assert "Could not connect" not in output
    assert "Traceback" not in output


def test_deleting_protected_artifacts_alone_does_not_empty_the_bucket(tmp_path):
    # Sceptre runs before_delete hooks before its protection check; the hook checks first.
    returncode, output = sceptre_offline(
        tmp_path, "--ignore-dependencies", "delete", "-y", "prod/artifacts.yaml"
    )
    assert returncode == 1, output
    assert "prod/artifacts is protected (protect: true); its bucket was not emptied" in output
    assert "Could not connect" not in output
    assert "Traceback" not in output
