"""Each rule of aws_fidelity.rules, refusing what AWS refuses, on a real emulator.

``emulator_endpoint``, ``aws`` and ``stacks`` are the shared emulator of tests/emulator. Account
settings (API Gateway's CloudWatch role) and the Lambda quota belong to a whole account and
region, and the shared emulator's us-east-1 has the role set (test_emulator_apigatewayv2.py):
``fresh_account`` and ``small_account`` are emulators of their own, a brand-new account.
``gateway`` is the local API Gateway of tests/gateway, serving a dev launched on an emulator of
its own, with the test handlers (once for this package, on first use).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from emulator import process
from tests.emulator.conftest import aws, emulator_endpoint, stacks  # noqa: F401
from tests.gateway.conftest import (  # noqa: F401
    answers_api_id,
    gateway,
    launched,
    records,
    wiring,
)

# Resource handler returned message: "<message> (Service: <service>, Status Code: 400, Request
# ID: <id>)" (RequestToken: <token>, HandlerErrorCode: InvalidRequest)
_HANDLER_MESSAGE = re.compile(
    r'Resource handler returned message: "(?P<message>.*) \(Service: (?P<service>\w+), Status '
    r'Code: (?P<status>\d+), Request ID: [0-9a-f-]+\)" \(RequestToken: [0-9a-f-]+, '
    r"HandlerErrorCode: InvalidRequest\)"
)


def handler_message(reason: str) -> tuple[str, str, int]:
    """(message, service, status) of a resource's status reason in CloudFormation's words."""
    match = _HANDLER_MESSAGE.fullmatch(reason)
    assert match, reason
    return match["message"], match["service"], int(match["status"])


class Account:
    """An emulated account: boto3 clients for one region of an emulator."""

    def __init__(self, url: str, region: str = "us-east-1") -> None:
        self.url = url
        self.region = region
        self.session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )

    def in_region(self, region: str) -> Account:
        return Account(self.url, region)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.url)

    def stack(
        self,
        name: str,
        resources: dict[str, Any] | None = None,
        template: dict[str, Any] | str | None = None,
    ) -> dict[str, Any]:
        """Create a stack (from ``resources`` or a whole ``template``) and return its final
        description, failed or not (the emulator applies changes synchronously)."""
        body = template if template is not None else {"Resources": resources}
        cfn = self.client("cloudformation")
        cfn.create_stack(
            StackName=name,
            TemplateBody=body if isinstance(body, str) else json.dumps(body),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
        return cfn.describe_stacks(StackName=name)["Stacks"][0]

    def update(self, name: str, resources: dict[str, Any]) -> dict[str, Any]:
        cfn = self.client("cloudformation")
        cfn.update_stack(StackName=name, TemplateBody=json.dumps({"Resources": resources}))
        return cfn.describe_stacks(StackName=name)["Stacks"][0]

    def failure(self, name: str) -> tuple[str, str, str]:
        """The latest failed resource of a stack: logical id, status, status reason."""
        events = self.client("cloudformation").describe_stack_events(StackName=name)
        failed = [e for e in events["StackEvents"] if e["ResourceStatus"].endswith("_FAILED")]
        assert failed, events
        latest = failed[0]  # newest first, as CloudFormation lists them
        return latest["LogicalResourceId"], latest["ResourceStatus"], latest["ResourceStatusReason"]


def _start(quota: int | None = None) -> process.EmulatorProcess:
    with pytest.MonkeyPatch.context() as patch:
        if quota is not None:
            patch.setenv("EMULATOR_LAMBDA_CONCURRENT_EXECUTIONS", str(quota))
        else:
            patch.delenv("EMULATOR_LAMBDA_CONCURRENT_EXECUTIONS", raising=False)
        return process.start()


@pytest.fixture
def fresh_account() -> Iterator[Account]:
    """A new account with Lambda's default quota (1000) and no API Gateway settings."""
    handle = _start()
    try:
        yield Account(handle.url)
    finally:
        process.stop(handle)


@pytest.fixture(scope="module")
def small_account() -> Iterator[Account]:
    """A new account's Lambda quota: 50 concurrent executions."""
    handle = _start(50)
    try:
        yield Account(handle.url)
    finally:
        process.stop(handle)
