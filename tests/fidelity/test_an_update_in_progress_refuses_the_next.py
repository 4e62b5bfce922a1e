"""rules.check_no_update_in_progress: a Lambda update is asynchronous. While LastUpdateStatus is
InProgress (EMULATOR_LAMBDA_UPDATE_SECONDS, 0.5 s by default, after an update through the API),
UpdateFunctionCode, UpdateFunctionConfiguration and PublishVersion are refused with 409
ResourceConflictException; once it is Successful they go through. moto applies every update at
once and refuses nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aws_fidelity import rules
from tests.emulator.test_function_code_location import function, zip_of  # noqa: F401


def wait_until_successful(lam: Any, name: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        configuration = lam.get_function(FunctionName=name)["Configuration"]
        if configuration.get("LastUpdateStatus", "Successful") == "Successful":
            return configuration
        assert time.monotonic() < deadline, "the update never completed"
        time.sleep(0.05)


def test_a_second_update_while_the_first_is_in_progress_is_refused(aws: Any, function: str):  # noqa: F811
    lam = aws("lambda")
    updated = lam.update_function_code(FunctionName=function, ZipFile=zip_of("x = 2\n"))
    assert updated["LastUpdateStatus"] == "InProgress"  # as AWS answers an update
    assert lam.get_function_configuration(FunctionName=function)["LastUpdateStatus"] == (
        "InProgress"
    )
    arn = updated["FunctionArn"]
    refusals = [
        lambda: lam.update_function_code(FunctionName=function, ZipFile=zip_of("x = 3\n")),
        lambda: lam.update_function_configuration(FunctionName=function, Timeout=9),
        lambda: lam.publish_version(FunctionName=function),
    ]
    for call in refusals:
        with pytest.raises(ClientError) as refused:
            call()
        error = refused.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 409
        assert error["Error"]["Code"] == "ResourceConflictException"
        assert error["Error"]["Message"] == (
            "The operation cannot be performed at this time. An update is in progress for "
            f"resource: {arn}"
        )

    # Once the update is done, the next one goes through (and starts its own wait).
    done = wait_until_successful(lam, function)
    assert done["CodeSha256"] == updated["CodeSha256"]  # the refused ones changed nothing
    assert lam.update_function_configuration(FunctionName=function, Timeout=9)["Timeout"] == 9
    wait_until_successful(lam, function)
    assert lam.publish_version(FunctionName=function)["Version"] == "1"


def test_the_rule_refuses_only_while_in_progress() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    with pytest.raises(rules.Refused) as refused:
        rules.check_no_update_in_progress("InProgress", arn)
    assert (refused.value.status, refused.value.code) == (409, "ResourceConflictException")
    assert refused.value.message.endswith(f"An update is in progress for resource: {arn}")
    for status in ("Successful", "Failed", ""):
        rules.check_no_update_in_progress(status, arn)
