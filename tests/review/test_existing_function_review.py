"""``make review`` of a launched dev whose forwarding becomes an existing function: the review
says the function is now external, and the gate stops on its log group's removal until that is
approved by name. On an emulator of its own (the switch is this module's alone)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from tunnel_shared.protocol import PROTOCOL_TAG, PROTOCOL_VERSION

from review import gate
from tests.existing_functions import (
    FORWARDING_NAME,
    create_existing_function,
    set_existing_functions,
)
from tests.local.conftest import LocalProject, project_on_its_own_emulator


def review(project: LocalProject, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "review", "plan", "dev", "--no-colour", *args],
        cwd=project.root,
        env=project.environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def switched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalProject, str]]:
    """dev launched with our forwarding, then configured to use an existing one instead."""
    with project_on_its_own_emulator(tmp_path_factory, "existing-review") as project:
        launch = project.sceptre("launch", "-y", "dev")
        assert launch.returncode == 0, launch.output
        arn = create_existing_function(
            project.client("lambda"),
            project.client("iam"),
            FORWARDING_NAME,
            {PROTOCOL_TAG: PROTOCOL_VERSION},
        )
        set_existing_functions(project.root, "dev", {"forwarding": arn})
        yield project, arn


def test_the_review_says_forwarding_is_now_external_and_blocks_on_its_logs(switched):
    project, arn = switched
    planned = review(project)
    assert planned.returncode == gate.BLOCKED, planned.stdout + planned.stderr
    output = planned.stdout
    assert f"note: ForwardingFunction is now external: ForwardingFunctionArn names {arn}" in output
    assert "ForwardingLogGroup" in output
    markdown = (project.root / "build/review/dev.md").read_text()
    assert f"> ForwardingFunction is now external: ForwardingFunctionArn names {arn}" in markdown


def test_approving_the_log_groups_removal_lets_the_switch_pass(switched):
    project, _ = switched
    approved = review(project, "--allow-replace", "ForwardingLogGroup")
    assert approved.returncode == gate.OK, approved.stdout + approved.stderr
