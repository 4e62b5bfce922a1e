"""`python -m tunnel_infra.code_sync dev` on a launched dev: only changed code moves, only Lambda.

One launch for the module; the steps share it and run in order (sync, then the launch that
reconciles it, then --watch). The refusals and one-line errors need no launch; sync meeting an
update in progress, and an update Lambda refuses, call its steps in-process.
"""

from __future__ import annotations

import dataclasses
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.local.conftest import LocalProject
from tunnel_infra import code_sync
from tunnel_infra.functions import FUNCTIONS
from tunnel_infra.packaging import Artifact, package

FUNCTIONS_STACK = "http-tunnel-dev-functions"
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def run_sync(project: LocalProject, *args: str, **environment: str) -> Run:
    result = subprocess.run(
        [sys.executable, "-m", "tunnel_infra.code_sync", *args],
        cwd=project.root,
        env={**project.environment, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def deployed_sha256(project: LocalProject) -> dict[str, str]:
    lam = project.client("lambda")
    return {
        f.name: lam.get_function_configuration(FunctionName=f"http-tunnel-{f.name}-dev")[
            "CodeSha256"
        ]
        for f in FUNCTIONS
    }


def stack_states(project: LocalProject) -> dict[str, tuple[str, object]]:
    return {
        s["StackName"]: (s["StackStatus"], s.get("LastUpdatedTime"))
        for s in project.client("cloudformation").describe_stacks()["Stacks"]
        if s["StackName"].startswith("http-tunnel-")
    }


def code_key_parameters(project: LocalProject) -> dict[str, str]:
    (stack,) = project.client("cloudformation").describe_stacks(StackName=FUNCTIONS_STACK)["Stacks"]
    return {
        p["ParameterKey"]: p["ParameterValue"]
        for p in stack["Parameters"]
        if p["ParameterKey"].endswith("CodeKey")
    }


def edit(project: LocalProject, function: str, line: str) -> Artifact:
    handler = project.root / f"functions/{function}/handler.py"
    handler.write_text(handler.read_text() + f"\n{line}\n")
    return package(project.root, function, "x86_64")


@pytest.fixture(scope="module")
def launched(local_project: LocalProject) -> LocalProject:
    first = local_project.sceptre("launch", "-y", "dev")
    assert first.returncode == 0, first.output
    return local_project


@dataclass
class Synced:
    run: Run
    artifact: Artifact
    before_sha256: dict[str, str]
    after_sha256: dict[str, str]
    before_stacks: dict[str, tuple[str, object]]
    after_stacks: dict[str, tuple[str, object]]


@pytest.fixture(scope="module")
def synced(launched: LocalProject) -> Synced:
    before_sha256, before_stacks = deployed_sha256(launched), stack_states(launched)
    artifact = edit(launched, "response", "# changed by test_code_sync")
    run = run_sync(launched, "dev")
    assert run.returncode == 0, run.stderr
    return Synced(
        run,
        artifact,
        before_sha256,
        deployed_sha256(launched),
        before_stacks,
        stack_states(launched),
    )


def test_sync_of_a_fresh_launch_changes_nothing(launched):
    before = deployed_sha256(launched)
    run = run_sync(launched, "dev")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"{f.name:<11} unchanged" for f in FUNCTIONS]
    assert deployed_sha256(launched) == before


def test_sync_updates_exactly_the_changed_function(synced):
    changed = {n for n in synced.after_sha256 if synced.after_sha256[n] != synced.before_sha256[n]}
    assert changed == {"response"}
    assert synced.after_sha256["response"] == code_sync.code_sha256(synced.artifact)


def test_sync_prints_one_line_per_function_then_the_drift(synced):
    lines = synced.run.stdout.splitlines()
    assert len(lines) == len(FUNCTIONS) + 1, synced.run.stdout
    by_name = {line.split()[0]: line for line in lines[:-1]}
    assert sorted(by_name) == sorted(f.name for f in FUNCTIONS)
    for name, line in by_name.items():
        if name == "response":
            digest = synced.artifact.sha256
            assert line.split()[1:3] == ["updated", f"functions/response/{digest[:12]}….zip"]
            assert line.endswith("s")
        else:
            assert line.split()[1:] == ["unchanged"]
    assert FUNCTIONS_STACK in lines[-1] and "drifted" in lines[-1]
    assert "sceptre launch dev" in lines[-1]


def test_sync_leaves_every_stack_untouched(synced):
    assert synced.after_stacks == synced.before_stacks


def test_the_next_launch_reconciles_with_the_synced_key(synced, launched):
    assert code_key_parameters(launched)["ResponseCodeKey"] != synced.artifact.key  # drifted
    relaunch = launched.sceptre("launch", "-y", "dev")
    assert relaunch.returncode == 0, relaunch.output
    assert relaunch.uploaded == []  # the synced zip is already in the bucket under its key
    assert code_key_parameters(launched)["ResponseCodeKey"] == synced.artifact.key
    assert deployed_sha256(launched) == synced.after_sha256
    again = run_sync(launched, "dev")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"{f.name:<11} unchanged" for f in FUNCTIONS]


def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def _wait_for(lines: queue.Queue[str], predicate: Any, seconds: float, seen: list[str]) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if predicate(line):
            return line
    raise AssertionError(f"no such line within {seconds} s; got {seen}")


def test_watch_syncs_a_change_and_stops_on_ctrl_c(launched):
    watcher = subprocess.Popen(
        [sys.executable, "-m", "tunnel_infra.code_sync", "dev", "--watch"],
        cwd=launched.root,
        env=launched.environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(watcher.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        _wait_for(lines, lambda line: line.startswith("watching "), 30, seen)
        artifact = edit(launched, "forwarding", "# changed while watching")
        _wait_for(lines, lambda line: line == "changed: functions/forwarding/handler.py", 10, seen)
        updated = _wait_for(lines, lambda line: line.startswith("forwarding "), 10, seen)
        assert updated.split()[1] == "updated", seen
        assert deployed_sha256(launched)["forwarding"] == code_sync.code_sha256(artifact)
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            returncode = watcher.wait(timeout=10)
        except subprocess.TimeoutExpired:
            watcher.kill()
            raise
    stderr = watcher.stderr.read() if watcher.stderr else ""
    assert returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("environment", ["prod", "staging"])
def test_protected_environments_are_refused_without_calling_aws(local_project, environment):
    # An unreachable endpoint: any AWS call would end in "cannot reach AWS" and exit 1.
    run = run_sync(local_project, environment, AWS_ENDPOINT_URL=UNREACHABLE)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert f"make review ENV={environment}, then make deploy ENV={environment}" in line


def test_protection_is_read_from_the_config_not_the_name(local_project):
    sandbox = local_project.root / "config/sandbox"
    shutil.copytree(local_project.root / "config/dev", sandbox)
    try:
        unprotected = run_sync(local_project, "sandbox")
        assert unprotected.returncode == 1
        assert unprotected.stderr.splitlines() == [
            "sandbox is not launched: stack http-tunnel-sandbox-artifacts does not exist; "
            "run sceptre launch sandbox first"
        ]
        config = sandbox / "config.yaml"
        config.write_text("protect: true\n" + config.read_text())
        protected = run_sync(local_project, "sandbox", AWS_ENDPOINT_URL=UNREACHABLE)
        assert protected.returncode == 2, protected.stderr
        assert "make review ENV=sandbox" in protected.stderr
    finally:
        shutil.rmtree(sandbox)


def test_an_unreachable_endpoint_is_one_line(local_project):
    run = run_sync(local_project, "dev", AWS_ENDPOINT_URL=UNREACHABLE)
    assert run.returncode == 1
    (line,) = run.stderr.splitlines()
    assert line.startswith("cannot reach AWS: ") and UNREACHABLE in line


def test_a_function_that_does_not_compile_is_one_line_and_touches_nothing(launched):
    handler = launched.root / "functions/connect/handler.py"
    original = handler.read_text()
    before = deployed_sha256(launched)
    handler.write_text(original + "\ndef (\n")
    try:
        run = run_sync(launched, "dev")
    finally:
        handler.write_text(original)
    assert run.returncode == 1
    (line,) = run.stderr.splitlines()
    assert line.startswith("cannot package: function 'connect' does not compile: ")
    assert deployed_sha256(launched) == before


# Lambda's updates are asynchronous, and so are the emulator's (aws_fidelity.rules
# .check_no_update_in_progress): while one is InProgress the next is refused with
# ResourceConflictException. These call code_sync's steps in-process, so that the update in
# progress has not finished by the time sync reaches the function.


@pytest.fixture
def target(launched: LocalProject, monkeypatch: pytest.MonkeyPatch) -> code_sync.Target:
    for name, value in launched.environment.items():
        monkeypatch.setenv(name, value)
    return code_sync.read_target(launched.root, "dev")


def test_sync_waits_for_an_update_in_progress_then_updates(launched, target):
    deployed = code_sync.find_deployed(target)
    name = deployed.functions["disconnect"]
    lam = launched.client("lambda")
    timeout = lam.get_function_configuration(FunctionName=name)["Timeout"]
    # Someone else's update (the same timeout: a change of nothing, still an update).
    started = lam.update_function_configuration(FunctionName=name, Timeout=timeout)
    assert started["LastUpdateStatus"] == "InProgress"
    artifact = edit(launched, "disconnect", "# changed while another update ran")
    result = code_sync.sync_function(target, deployed, artifact, name)
    assert result.updated
    configuration = lam.get_function_configuration(FunctionName=name)
    assert configuration["CodeSha256"] == code_sync.code_sha256(artifact)


def test_an_update_lambda_refuses_is_one_line_naming_the_function(launched, target):
    deployed = code_sync.find_deployed(target)
    never_uploaded = Artifact("connect", b"not in the bucket")
    with pytest.raises(code_sync.SyncError) as raised:
        code_sync.update_code(
            target, deployed.functions["connect"], deployed.bucket, never_uploaded
        )
    message = str(raised.value)
    assert message.startswith(
        "function connect: UpdateFunctionCode refused (InvalidParameterValueException: "
    ), message
    assert "NoSuchKey" in message and "\n" not in message


def test_sync_of_every_function_keeps_within_lambdas_request_rates(launched, target):
    # The emulator throttles as Lambda does (aws_fidelity.rules.check_lambda_request_rate): 15
    # control-plane calls per second, GetFunction 100. Without retries, any throttled call of
    # the sync fails it, where retries would only hide it.
    from botocore.config import Config

    lam = launched.session.client(
        "lambda",
        endpoint_url=launched.environment["AWS_ENDPOINT_URL"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )

    def call(service: str, command: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if service == "lambda":
            return getattr(lam, command)(**kwargs)
        return target.call(service, command, kwargs)

    artifacts = {f.name: edit(launched, f.name, "# every function changed") for f in FUNCTIONS}
    results = code_sync.sync(dataclasses.replace(target, call=call))
    assert sorted(r.name for r in results if r.updated) == sorted(f.name for f in FUNCTIONS)
    assert deployed_sha256(launched) == {
        name: code_sync.code_sha256(artifact) for name, artifact in artifacts.items()
    }
