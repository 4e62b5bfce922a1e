"""rules.check_code_object: UpdateFunctionCode from an S3 object that is not there is refused,
400 InvalidParameterValueException in Lambda's words; moto would leave the function with no code
(an empty CodeSha256)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aws_fidelity import rules
from tests.emulator.test_function_code_location import function, zip_of  # noqa: F401


@pytest.mark.parametrize(
    ("bucket_exists", "code"),
    [(True, "NoSuchKey"), (False, "NoSuchBucket")],
)
def test_a_missing_object_is_refused_and_the_code_stays(
    aws: Any,
    function: str,  # noqa: F811
    bucket_exists: bool,
    code: str,
) -> None:
    lam = aws("lambda")
    before = lam.get_function_configuration(FunctionName=function)["CodeSha256"]
    bucket = f"code-{uuid.uuid4().hex[:10]}"
    if bucket_exists:
        aws("s3").create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as refused:
        lam.update_function_code(FunctionName=function, S3Bucket=bucket, S3Key="missing.zip")
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["Error"]["Message"].startswith(
        f"Error occurred while GetObject. S3 Error Code: {code}. "
    )
    configuration = lam.get_function_configuration(FunctionName=function)
    assert configuration["CodeSha256"] == before
    assert configuration["LastUpdateStatus"] == "Successful"  # refused: no update began


def test_an_object_that_is_there_is_taken(aws: Any, function: str) -> None:  # noqa: F811
    bucket = f"code-{uuid.uuid4().hex[:10]}"
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key="f.zip", Body=zip_of("x = 1\n"))
    updated = aws("lambda").update_function_code(
        FunctionName=function, S3Bucket=bucket, S3Key="f.zip"
    )
    assert updated["CodeSha256"] and updated["CodeSize"] > 0


def test_the_rule_names_what_is_missing() -> None:
    with pytest.raises(rules.Refused, match="NoSuchBucket"):
        rules.check_code_object(False, False)
    with pytest.raises(rules.Refused, match="NoSuchKey") as refused:
        rules.check_code_object(True, False)
    assert (refused.value.status, refused.value.code) == (400, "InvalidParameterValueException")
    rules.check_code_object(True, True)
