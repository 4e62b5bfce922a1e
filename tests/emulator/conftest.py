"""Fixtures for tests that talk to the emulator over HTTP (no moto in this venv).

Other test folders can reuse the endpoint with
``from tests.emulator.conftest import emulator_endpoint  # noqa: F401`` in their
conftest, or call ``emulator.process`` directly.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` does not put the repo root on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from emulator import process  # noqa: E402


@pytest.fixture(scope="session")
def emulator_endpoint() -> Iterator[str]:
    """URL of an emulator started for this session; AWS_* env points at it."""
    handle = process.start()
    saved = {key: os.environ.get(key) for key in process.client_environment(handle.url)}
    os.environ.update(process.client_environment(handle.url))
    try:
        yield handle.url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        process.stop(handle)


@pytest.fixture(scope="session")
def aws(emulator_endpoint: str) -> Any:
    """``aws("apigatewayv2")`` -> a cached boto3 client for the emulator."""
    session = boto3.session.Session()
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service)
        return clients[service]

    return client


class Stacks:
    """create/update/delete stacks from template dicts; deletes leftovers."""

    def __init__(self, cfn: Any) -> None:
        self.cfn = cfn
        self.names: list[str] = []

    @staticmethod
    def _params(parameters: dict[str, str] | None) -> list[dict[str, str]]:
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()]

    def create(
        self, template: dict[str, Any], parameters: dict[str, str] | None = None, **kwargs: Any
    ) -> str:
        name = f"t-{uuid.uuid4().hex[:10]}"
        self.cfn.create_stack(
            StackName=name,
            TemplateBody=json.dumps(template),
            Parameters=self._params(parameters),
            **kwargs,
        )
        self.names.append(name)
        assert self.status(name) == "CREATE_COMPLETE"
        return name

    def update(
        self,
        name: str,
        template: dict[str, Any],
        parameters: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.cfn.update_stack(
            StackName=name,
            TemplateBody=json.dumps(template),
            Parameters=self._params(parameters),
            **kwargs,
        )
        assert self.status(name) == "UPDATE_COMPLETE"

    def delete(self, name: str) -> None:
        self.cfn.delete_stack(StackName=name)
        self.names.remove(name)

    def status(self, name: str) -> str:
        # moto applies changes synchronously: no waiting needed.
        return str(self.cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])

    def outputs(self, name: str) -> dict[str, str]:
        stack = self.cfn.describe_stacks(StackName=name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def physical_ids(self, name: str) -> dict[str, str]:
        resources = self.cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
        return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}


@pytest.fixture
def stacks(aws: Any) -> Iterator[Stacks]:
    helper = Stacks(aws("cloudformation"))
    yield helper
    for name in list(helper.names):
        helper.delete(name)
