"""rules.unreserved_minimum and rules.check_reservation, in the Lambda API and in
CloudFormation, on a 1000 account and on a new account's 50."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from aws_fidelity import rules


def test_the_rule():
    assert [rules.unreserved_minimum(q) for q in (10, 50, 100, 1000)] == [10, 50, 100, 100]
    rules.check_reservation(1000, 0, 900)
    with pytest.raises(rules.Refused, match=r"below its minimum value of \[100\]"):
        rules.check_reservation(1000, 500, 401)
    with pytest.raises(rules.Refused, match=r"below its minimum value of \[50\]"):
        rules.check_reservation(50, 0, 1)


def function(account, name: str) -> dict:
    s3 = account.client("s3")
    bucket = "fidelity-code"
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
        s3.put_object(Bucket=bucket, Key="code.zip", Body=data.getvalue())
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = account.client("iam")
    try:
        role = iam.get_role(RoleName="fn")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    return {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Handler": "handler.handler",
        "Role": role,
        "Code": {"S3Bucket": bucket, "S3Key": "code.zip"},
    }


def test_the_api_keeps_100_unreserved_on_a_1000_account(account):
    lam = account.client("lambda")
    properties = function(account, "big")
    lam.create_function(**properties)
    lam.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=900)
    settings = lam.get_account_settings()["AccountLimit"]
    assert (settings["ConcurrentExecutions"], settings["UnreservedConcurrentExecutions"]) == (
        1000,
        100,
    )
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match=r"\[100\]"):
        lam.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=901)
    lam.delete_function_concurrency(FunctionName="big")
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000


def test_a_new_account_cannot_reserve_anything(small_account):
    lam = small_account.client("lambda")
    lam.create_function(**function(small_account, "tiny"))
    assert lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 50
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match=r"\[50\]"):
        lam.put_function_concurrency(FunctionName="tiny", ReservedConcurrentExecutions=1)


def test_the_old_dev_reservations_fail_their_stack_on_a_new_account(small_account):
    # The old dev: every function reserved 10.
    properties = {**function(small_account, "old-dev"), "ReservedConcurrentExecutions": 10}
    stack = small_account.stack(
        "old-dev", {"F": {"Type": "AWS::Lambda::Function", "Properties": properties}}
    )
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    logical_id, reason = small_account.failure("old-dev")
    assert logical_id == "F"
    assert (
        "decreases account's UnreservedConcurrentExecution below its minimum value of [50]"
        in reason
    )
