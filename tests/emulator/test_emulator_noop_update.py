"""UpdateStack with nothing to change answers like real CloudFormation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Env": {"Type": "String"},
        "Retention": {"Type": "Number", "Default": "14"},
    },
    "Resources": {
        "Logs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"RetentionInDays": {"Ref": "Retention"}},
        }
    },
    "Outputs": {"Env": {"Value": {"Ref": "Env"}}},
}
NO_PARAMETERS: dict[str, Any] = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}


def _assert_no_updates(error: pytest.ExceptionInfo[ClientError]) -> None:
    response = error.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "ValidationError"
    assert response["Error"]["Message"] == "No updates are to be performed."


def test_identical_update_is_rejected(stacks: Any, aws: Any) -> None:
    name = stacks.create(
        TEMPLATE, {"Env": "dev", "Retention": "14"}, Tags=[{"Key": "a", "Value": "1"}]
    )
    with pytest.raises(ClientError) as error:
        stacks.update(name, TEMPLATE, {"Env": "dev", "Retention": "14"})
    _assert_no_updates(error)
    # Same values spelled differently: explicit default, previous value, same tags.
    with pytest.raises(ClientError) as error:
        aws("cloudformation").update_stack(
            StackName=name,
            TemplateBody=json.dumps(TEMPLATE, indent=4),
            Parameters=[{"ParameterKey": "Env", "UsePreviousValue": True}],
            Tags=[{"Key": "a", "Value": "1"}],
        )
    _assert_no_updates(error)
    assert stacks.status(name) == "CREATE_COMPLETE"


def test_identical_update_without_parameters_is_rejected(stacks: Any) -> None:
    name = stacks.create(NO_PARAMETERS)
    with pytest.raises(ClientError) as error:
        stacks.update(name, NO_PARAMETERS)
    _assert_no_updates(error)


def test_identical_template_url_update_is_rejected(stacks: Any, aws: Any) -> None:
    s3 = aws("s3")
    s3.create_bucket(Bucket="noop-templates")
    s3.put_object(Bucket="noop-templates", Key="t.json", Body=json.dumps(NO_PARAMETERS).encode())
    url = "https://noop-templates.s3.us-east-1.amazonaws.com/t.json"
    name = stacks.create(NO_PARAMETERS)
    with pytest.raises(ClientError) as error:
        aws("cloudformation").update_stack(StackName=name, TemplateURL=url)
    _assert_no_updates(error)


def test_changed_parameter_tag_or_template_still_updates(stacks: Any, aws: Any) -> None:
    name = stacks.create(TEMPLATE, {"Env": "dev"})
    stacks.update(name, TEMPLATE, {"Env": "staging"})
    assert stacks.outputs(name)["Env"] == "staging"

    stacks.update(name, TEMPLATE, {"Env": "staging"}, Tags=[{"Key": "owner", "Value": "ops"}])
    tags = aws("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["Tags"]
    assert tags == [{"Key": "owner", "Value": "ops"}]

    changed = {**TEMPLATE, "Outputs": {"Env": {"Value": {"Fn::Sub": "env-${Env}"}}}}
    stacks.update(name, changed, {"Env": "staging"})
    assert stacks.outputs(name)["Env"] == "env-staging"
