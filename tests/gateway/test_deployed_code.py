"""The gateway runs the deployed code, as Lambda does, never the project's working tree: an edit
that is not deployed changes nothing, and ``make sync`` (UpdateFunctionCode) reaches the running
gateway within seconds, without a restart and without failing a request in flight.

The edit: the test forwarding handler answers ``/code-version`` with ``edited`` (before, that
path gets the default answer, the event as JSON)."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local_gateway import testing
from tests.gateway.conftest import http_request, start_gateway
from tests.gateway.recording import Records
from tests.local.conftest import LocalProject
from tunnel_infra.packaging import Artifact, package

FUNCTION = "http-tunnel-forwarding-dev"
MARKER = "/code-version"
EDIT = (
    '    record("forwarding", event, context)\n',
    '    if path == "/code-version":\n'
    '        return {"statusCode": 200, "body": "edited"}\n'
    '    record("forwarding", event, context)\n',
)
SWITCH_SECONDS = 10.0


def handler_path(project: LocalProject) -> Path:
    return project.root / "functions" / "forwarding" / "handler.py"


def deploy(project: LocalProject) -> Artifact:
    """``make sync ENV=dev`` in the project copy, the real entry point: package, upload,
    UpdateFunctionCode for what changed (here: forwarding only), wait until it is done."""
    artifact = package(project.root, "forwarding")
    synced = subprocess.run(
        [sys.executable, "-m", "tunnel_infra.code_sync", "dev"],
        cwd=project.root,
        env=project.environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stderr
    updated = re.findall(r"^(\w+)\s+updated\b", synced.stdout, re.MULTILINE)
    assert updated == ["forwarding"], synced.stdout
    return artifact


def switches_to(gateway: testing.GatewayProcess, artifact: Artifact) -> int:
    return len(re.findall(rf"forwarding: now running code {artifact.sha256[:12]}\b", gateway.log()))


def answer(gateway: testing.GatewayProcess, path: str) -> tuple[int, bytes]:
    status, _, body = http_request(gateway, "GET", path)
    return status, body


@pytest.fixture
def edited(launched: LocalProject, gateway: testing.GatewayProcess) -> Iterator[Path]:
    """The forwarding handler edited in the project copy; afterwards, the original source back
    and deployed again (the package's gateway follows it back)."""
    path = handler_path(launched)
    original = path.read_text()
    assert EDIT[0] in original
    deployed = package(launched.root, "forwarding")
    path.write_text(original.replace(EDIT[0], EDIT[1]))
    try:
        yield path
    finally:
        path.write_text(original)
        if launched.client("lambda").get_function_configuration(FunctionName=FUNCTION)[
            "CodeSha256"
        ] != sha_b64(deployed):
            before = switches_to(gateway, deployed)
            deploy(launched)
            deadline = time.monotonic() + SWITCH_SECONDS
            while switches_to(gateway, deployed) == before and time.monotonic() < deadline:
                time.sleep(0.1)


def sha_b64(artifact: Artifact) -> str:
    return base64.b64encode(bytes.fromhex(artifact.sha256)).decode()


def test_an_edit_that_is_not_deployed_changes_nothing(
    launched: LocalProject, gateway: testing.GatewayProcess, records: Records, edited: Path
) -> None:
    switches = gateway.log().count("now running code")
    time.sleep(2.5)  # more than one code poll
    # Neither the running gateway nor one started after the edit runs the edited source.
    fresh = start_gateway(launched, records)
    try:
        for running in (gateway, fresh):
            status, body = answer(running, MARKER)
            assert status == 200
            assert body != b"edited"  # the default answer: the deployed handler has none
            assert b'"rawPath": "/code-version"' in body
    finally:
        testing.stop(fresh)
    assert gateway.log().count("now running code") == switches


def test_update_function_code_reaches_the_running_gateway_without_losing_a_request(
    launched: LocalProject, gateway: testing.GatewayProcess, edited: Path
) -> None:
    assert answer(gateway, MARKER)[1] != b"edited"
    pid = gateway.process.pid
    outcomes: list[tuple[str, int, bytes]] = []
    stop = threading.Event()

    def keep_asking(path: str) -> None:
        while not stop.is_set():
            status, body = answer(gateway, path)
            outcomes.append((path, status, body))

    with ThreadPoolExecutor(max_workers=6) as pool:
        # Requests in flight across the switch: 1 s sleeps, and quick ones.
        askers = [pool.submit(keep_asking, "/sleep?s=1") for _ in range(3)]
        askers += [pool.submit(keep_asking, "/no-content") for _ in range(2)]
        time.sleep(1.5)
        artifact = deploy(launched)
        updated = time.monotonic()
        while answer(gateway, MARKER)[1] != b"edited":
            assert time.monotonic() - updated < SWITCH_SECONDS, gateway.log_tail()
            time.sleep(0.1)
        took = time.monotonic() - updated
        time.sleep(1.5)  # the old worker finishes what it was running, then stops
        stop.set()
        for asker in askers:
            asker.result()

    assert took < SWITCH_SECONDS
    assert gateway.process.pid == pid and gateway.process.poll() is None  # no restart
    failed = [(path, status, body[:200]) for path, status, body in outcomes if status >= 300]
    assert not failed, failed
    slept = [o for o in outcomes if o[0] == "/sleep?s=1"]
    assert len(slept) >= 6 and all(body == b"slept" for _, _, body in slept)
    assert switches_to(gateway, artifact) == 1, gateway.log_tail()
