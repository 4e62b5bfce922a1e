"""rules.check_template_parameters: a stack is given only the parameters its template declares.

dev's functions stack used to take ``HttpApiId`` only without a custom domain, while its config
passed it always: with a domain set, moto answered the update with a 500 (``KeyError:
'HttpApiId'`` in its ``load_parameters``, under a long traceback) where CloudFormation answers
one line, 400 ``ValidationError``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aws_fidelity import rules

from .conftest import Account

TOPIC = {"Topic": {"Type": "AWS::SNS::Topic"}}
WITH_API_ID = {
    "Parameters": {"HttpApiId": {"Type": "String"}},
    "Resources": TOPIC,
    "Outputs": {"Api": {"Value": {"Ref": "HttpApiId"}}},
}
WITHOUT = {
    "Parameters": {"Stage": {"Type": "String"}},
    "Resources": TOPIC,
    "Outputs": {"Stage": {"Value": {"Ref": "Stage"}}},
}


def parameters(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def refusal(declared: set[str], given: list[str]) -> str:
    with pytest.raises(rules.Refused) as refused:
        rules.check_template_parameters(declared, given)
    assert (refused.value.code, refused.value.status) == ("ValidationError", 400)
    return refused.value.message


def test_the_rule() -> None:
    assert refusal({"Stage"}, ["Stage", "HttpApiId"]) == (
        "Parameters: [HttpApiId] do not exist in the template"
    )
    assert refusal({"Stage"}, ["B", "Stage", "A"]) == (
        "Parameters: [B, A] do not exist in the template"
    )
    assert refusal(set(), ["HttpApiId"]) == (
        "Parameter values specified for a template which does not require them."
    )
    rules.check_template_parameters({"Stage", "Unused"}, ["Stage"])
    rules.check_template_parameters(set(), [])


@pytest.fixture
def account(emulator_endpoint: str) -> Account:
    return Account(emulator_endpoint)


def refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationError"
    return str(error["Error"]["Message"])


def test_an_update_may_not_pass_a_parameter_the_new_template_dropped(account: Account) -> None:
    cfn = account.client("cloudformation")
    name = f"params-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(
        StackName=name, TemplateBody=json.dumps(WITH_API_ID), Parameters=parameters(HttpApiId="a1")
    )
    message = refused(
        cfn.update_stack,
        StackName=name,
        TemplateBody=json.dumps(WITHOUT),
        Parameters=parameters(Stage="$default", HttpApiId="a1"),
    )
    assert message == "Parameters: [HttpApiId] do not exist in the template"
    # Nothing changed; the update with exactly the new template's parameters goes through.
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert (stack["StackStatus"], stack["Outputs"][0]["OutputValue"]) == ("CREATE_COMPLETE", "a1")
    cfn.update_stack(
        StackName=name, TemplateBody=json.dumps(WITHOUT), Parameters=parameters(Stage="$default")
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert (stack["StackStatus"], stack["Outputs"][0]["OutputValue"]) == (
        "UPDATE_COMPLETE",
        "$default",
    )
    cfn.delete_stack(StackName=name)


def test_a_create_and_a_change_set_refuse_them_too(account: Account) -> None:
    cfn = account.client("cloudformation")
    name = f"params-{uuid.uuid4().hex[:8]}"
    message = refused(
        cfn.create_stack,
        StackName=name,
        TemplateBody=json.dumps(WITHOUT),
        Parameters=parameters(Stage="s", HttpApiId="a1"),
    )
    assert message == "Parameters: [HttpApiId] do not exist in the template"
    assert name not in {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}
    message = refused(
        cfn.create_change_set,
        StackName=name,
        ChangeSetName="review-1",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps({"Resources": TOPIC}),
        Parameters=parameters(HttpApiId="a1"),
    )
    assert message == "Parameter values specified for a template which does not require them."
