"""The deployer's policy (tunnel_infra.deployer_policy) allows every call the tools make.

An emulator that records each operation it serves (emulator/call_log.py) gets a launch of dev,
a review, a sync of one changed function, ``tunnel token`` issue, list and revoke, a drift
detection and ``tunnel logs``; every recorded operation must map to an action of that command's
statement. CloudFormation's own calls inside the emulator are not requests: the registry schemas
cover those (``ResourcesFor...``), checked here only for the types and gaps that matter most.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator import process
from emulator.call_log import ENVIRONMENT_VARIABLE, read
from tests.project_copy import copy_project, emulator_environment
from tests.tunnel.conftest import TUNNEL, launch_dev
from tunnel_infra import deployer_policy
from tunnel_infra.deployer_policy import iam_action


@dataclass
class Recorded:
    """The operations the emulator served while each command ran."""

    by_command: dict[str, list[dict[str, Any]]]


def _run(root: Path, environment: dict[str, str], *command: str) -> str:
    done = subprocess.run(
        command, cwd=root, env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    root = copy_project(tmp_path_factory.mktemp("policy-project"))
    log = root / "calls.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENVIRONMENT_VARIABLE, str(log))  # the emulator process inherits it
        emulator = process.start()
    environment = emulator_environment(root, emulator.url)
    by_command: dict[str, list[dict[str, Any]]] = {}
    seen = 0

    def since() -> list[dict[str, Any]]:
        nonlocal seen
        records = read(str(log)) if log.exists() else []
        new, seen = records[seen:], len(records)
        return new

    try:
        launch_dev(root, environment)
        by_command["launch"] = since()
        _run(root, environment, sys.executable, "-m", "review", "plan", "dev")
        by_command["review"] = since()
        handler = root / "functions/connect/handler.py"
        handler.write_text(handler.read_text() + "\n# changed, so that sync uploads it\n")
        _run(root, environment, sys.executable, "-m", "tunnel_infra.code_sync", "dev")
        by_command["sync"] = since()
        token = _run(root, environment, str(TUNNEL), "token", "--subdomain", "policy")
        _run(root, environment, str(TUNNEL), "token", "list")
        _run(root, environment, str(TUNNEL), "token", "revoke", token.strip().splitlines()[-1])
        by_command["token"] = since()
        _run(root, environment, sys.executable, "-m", "review.drift", "dev")
        by_command["drift"] = since()
        _run(root, environment, str(TUNNEL), "logs", "--environment", "dev", "--since", "1h")
        by_command["logs"] = since()
        yield Recorded(by_command)
    finally:
        process.stop(emulator)


@pytest.mark.parametrize("command", ["launch", "review", "sync", "token", "drift", "logs"])
def test_every_call_a_command_makes_is_in_its_statement(recorded: Recorded, command: str) -> None:
    records = recorded.by_command[command]
    assert records, f"the emulator recorded no call during {command}"
    unresolved = [r for r in records if r["operation"] is None]
    assert not unresolved, f"operations the call log could not name: {unresolved[:3]}"
    statements = [
        s
        for s in deployer_policy.policy("dev", [command])["Statement"]
        if not s["Sid"].startswith("ResourcesFor")
    ]
    allowed = {a.lower() for s in statements for a in s["Action"]}
    missing = sorted(
        {
            f"{action} ({r['service']} {r['operation']})"
            for r in records
            if (action := iam_action(r["signing_name"], r["operation"], r["method"]))
            and action.lower() not in allowed
        }
    )
    assert not missing, f"{command} calls what its statements lack: {missing}"


def test_the_recorded_operations_are_the_ones_the_tools_make(recorded: Recorded) -> None:
    """The log names real operations: the hooks' upload, sync's update, token's reads."""
    named = {
        command: {f"{r['service']}:{r['operation']}" for r in records}
        for command, records in recorded.by_command.items()
    }
    assert {"cloudformation:CreateStack", "s3:PutObject", "apigateway:GetAccount"} <= named[
        "launch"
    ]
    assert "cloudformation:CreateChangeSet" in named["review"]
    assert "lambda:UpdateFunctionCode" in named["sync"]
    assert {"cloudformation:DetectStackDrift", "cloudformation:DescribeStackResourceDrifts"} <= (
        named["drift"]
    )
    assert {"secretsmanager:GetSecretValue", "dynamodb:Scan", "dynamodb:UpdateItem"} <= named[
        "token"
    ]
    assert {"cloudformation:DescribeStacks", "logs:FilterLogEvents"} <= named["logs"]


def test_the_token_command_reads_the_signing_key_and_no_other_secret() -> None:
    """GetSecretValue is on the signing key's ARN (its name and Secrets Manager's six-character
    suffix), so the deployer cannot read the functions' reply key beside it."""
    document = deployer_policy.policy("dev", ["token"])
    (named,) = [s for s in document["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]]
    (everything,) = [s for s in document["Statement"] if s["Resource"] == "*"]
    assert "secretsmanager:GetSecretValue" not in everything["Action"]
    # IAM's wildcards: * any run of characters, ? exactly one.
    pattern = re.compile(
        "^" + re.escape(named["Resource"]).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    )
    prefix = "arn:aws:secretsmanager:us-east-1:123456789012:secret:http-tunnel-"
    assert pattern.match(prefix + "signing-key-dev-AbCdEf")
    for other in ("reply-key-dev-AbCdEf", "signing-key-prod-AbCdEf", "signing-key-dev-x-AbCdEf"):
        assert not pattern.match(prefix + other), other


def test_drift_reads_each_resource_with_its_schemas_read_permissions_only() -> None:
    """CloudFormation reads every resource with the caller's credentials to compare it: drift
    gets the read handlers' permissions, and none that creates, changes or deletes."""
    document = deployer_policy.policy("dev", ["drift"])
    (reads,) = [s for s in document["Statement"] if s["Sid"] == "ResourcesReadForDrift"]
    actions = set(reads["Action"])
    assert {"lambda:GetFunction", "logs:DescribeLogGroups", "dynamodb:DescribeTable"} <= actions
    assert not {"lambda:CreateFunction", "lambda:UpdateFunctionConfiguration", "iam:PassRole"} & (
        actions
    )


def test_cloudformation_acts_with_the_resources_schema_permissions() -> None:
    document = deployer_policy.policy("prod", ["deploy"])
    (resources,) = [s for s in document["Statement"] if s["Sid"] == "ResourcesForDeploy"]
    actions = set(resources["Action"])
    # Roles passed to Lambda and API Gateway, the alarm topic, the HTTP API's log delivery.
    assert {"iam:PassRole", "lambda:CreateFunction", "sns:CreateTopic"} <= actions
    assert set(deployer_policy.HTTP_API_LOG_DELIVERY) <= actions
    assert all(":" in a and "." not in a for a in actions), "only IAM actions"


def test_the_command_line_prints_a_policy_offline(tmp_path: Path) -> None:
    # No credentials, no endpoint, no ~/.aws: rendering and the schemas are local.
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "tunnel_infra.deployer_policy", "dev", "--command", "sync"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert [s["Sid"] for s in document["Statement"]] == ["Sync"]
    assert "lambda:UpdateFunctionCode" in document["Statement"][0]["Action"]


def test_an_unknown_environment_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tunnel_infra.deployer_policy", "nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "deployer-policy: no environment 'nowhere' under config/"
    ]
