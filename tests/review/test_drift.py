"""``make drift`` (python -m review.drift) and the review's drift section, on the emulator.

dev is launched on an emulator of its own; resources are then changed behind CloudFormation's
back with boto3, as someone in the console would, and the drift tool run as ``make drift`` runs it.
The tests run in order on one launch: each adds a change and sees all of them.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator

import pytest
from tunnel_shared.names import resource_name

from review import gate
from review.drift import EXIT_DRIFT, EXIT_OK, EXPLAINED
from tests.local.conftest import LocalProject, project_on_its_own_emulator
from tests.tunnel.conftest import launch_dev
from tunnel_infra.functions import SIGNING_KEY

STACK = "dev/functions"


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProject]:
    with project_on_its_own_emulator(tmp_path_factory, "drift-project") as project:
        launch_dev(project.root, project.environment)
        yield project


def _drift(project: LocalProject) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "review.drift", "dev"],
        cwd=project.root,
        env=project.environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _function(name: str) -> str:
    return resource_name(name, "dev")


def test_a_launched_environment_has_no_drift(launched: LocalProject) -> None:
    done = _drift(launched)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "no drift"
    assert "9 of 9 stack(s) checked" in done.stdout


def test_code_that_make_sync_put_live_is_drift_explained_by_sync(launched: LocalProject) -> None:
    handler = launched.root / "functions/connect/handler.py"
    handler.write_text(handler.read_text() + "\n# changed, so that sync updates it\n")
    synced = subprocess.run(
        [sys.executable, "-m", "tunnel_infra.code_sync", "dev"],
        cwd=launched.root,
        env=launched.environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert synced.returncode == 0, synced.stdout + synced.stderr
    done = _drift(launched)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    (line,) = [x for x in done.stdout.splitlines() if "ConnectFunction" in x]
    assert line.startswith(f"{STACK}  ConnectFunction  AWS::Lambda::Function  Code (CodeSha256)")
    assert line.endswith(f"({EXPLAINED})")
    assert done.stdout.strip().splitlines()[-1] == "no drift but 1 explained by make sync"


def test_code_changed_outside_the_tools_is_drift(launched: LocalProject) -> None:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    launched.client("lambda").update_function_code(
        FunctionName=_function("disconnect"), ZipFile=package.getvalue()
    )
    done = _drift(launched)
    assert done.returncode == EXIT_DRIFT, done.stdout + done.stderr
    (line,) = [x for x in done.stdout.splitlines() if "DisconnectFunction" in x]
    assert "Code (CodeSha256)" in line and EXPLAINED not in line
    assert "ConnectFunction" in done.stdout  # the synced one, still explained
    assert done.stdout.strip().splitlines()[-1] == (
        "DRIFT: 1 drifted property (1 more explained by make sync)"
    )


def test_configuration_changed_behind_cloudformation_is_drift(launched: LocalProject) -> None:
    launched.client("logs").put_retention_policy(
        logGroupName=f"/aws/lambda/{_function('authorizer')}", retentionInDays=30
    )
    functions = launched.client("lambda")
    variables = functions.get_function(FunctionName=_function("forwarding"))["Configuration"][
        "Environment"
    ]["Variables"]
    functions.update_function_configuration(
        FunctionName=_function("forwarding"),
        MemorySize=1024,
        Environment={"Variables": {**variables, "DEBUG": "1"}},
    )
    done = _drift(launched)
    assert done.returncode == EXIT_DRIFT, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"{STACK}  AuthorizerLogGroup  AWS::Logs::LogGroup  /RetentionInDays  7 → 30" in lines
    memory = [x for x in lines if "ForwardingFunction" in x and "/MemorySize" in x]
    assert memory and memory[0].endswith(" → 1024")
    assert any(
        "ForwardingFunction" in x and "/Environment/Variables/DEBUG  null → 1" in x for x in lines
    )


def test_no_secret_value_is_ever_shown(launched: LocalProject) -> None:
    secrets = launched.client("secretsmanager")
    name = resource_name(SIGNING_KEY.key, "dev")
    value = "the-new-signing-key-value-that-must-never-be-printed"
    secrets.put_secret_value(SecretId=name, SecretString=value)
    secrets.update_secret(SecretId=name, Description="changed in the console")
    done = _drift(launched)
    assert value not in done.stdout + done.stderr
    (line,) = [x for x in done.stdout.splitlines() if "SigningKeySecret" in x]
    assert "/Description" in line and line.endswith("→ changed in the console")


def test_the_review_shows_drift_without_gating_on_it(launched: LocalProject) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "review", "plan", "dev", "--no-colour"],
        cwd=launched.root,
        env=launched.environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == gate.OK, output
    assert "Drift (not gating; make drift fails on it): DRIFT:" in output
    assert f"  {STACK}  AuthorizerLogGroup  AWS::Logs::LogGroup  /RetentionInDays  7 → 30" in output
    markdown = (launched.root / "build" / "review" / "dev.md").read_text()
    assert "### Drift" in markdown and f"#### `{STACK}`" in markdown
    assert "| `AuthorizerLogGroup` | AWS::Logs::LogGroup | `/RetentionInDays` | `7` | `30` |" in (
        markdown
    )
    assert "the-new-signing-key-value" not in output + markdown
