"""Each rule of aws_fidelity.rules, refusing what AWS refuses, on a real emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from emulator import process


class Account:
    """A fresh emulated account (its own emulator: account settings are global to it)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.url)

    def stack(self, name: str, resources: dict[str, Any]) -> dict[str, Any]:
        """Create a stack and return its final description, failed or not."""
        cfn = self.client("cloudformation")
        cfn.create_stack(
            StackName=name,
            TemplateBody=json.dumps({"Resources": resources}),
            Capabilities=["CAPABILITY_IAM"],
        )
        return cfn.describe_stacks(StackName=name)["Stacks"][0]

    def failure(self, name: str) -> tuple[str, str]:
        """The failed resource and its reason, as CloudFormation's events give them."""
        events = self.client("cloudformation").describe_stack_events(StackName=name)
        failed = [e for e in events["StackEvents"] if e["ResourceStatus"].endswith("_FAILED")]
        assert failed, events
        return failed[0]["LogicalResourceId"], failed[0]["ResourceStatusReason"]


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    handle = process.start()
    try:
        yield Account(handle.url)
    finally:
        process.stop(handle)


@pytest.fixture(scope="module")
def small_account() -> Iterator[Account]:
    """A new account's quota: 50 concurrent executions."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMULATOR_LAMBDA_CONCURRENT_EXECUTIONS", "50")
        handle = process.start()
    try:
        yield Account(handle.url)
    finally:
        process.stop(handle)
