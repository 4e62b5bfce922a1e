"""rules.unreserved_minimum and rules.check_reservation, in the Lambda API and in
CloudFormation, on a 1000 account and on a new account's 50."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from aws_fidelity import rules

from .conftest import Account, handler_message


def below_minimum(minimum: int) -> str:
    return (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        f"UnreservedConcurrentExecution below its minimum value of [{minimum}]."
    )


def test_the_rule() -> None:
    assert [rules.unreserved_minimum(q) for q in (10, 50, 100, 101, 1000)] == [
        10,
        50,
        100,
        100,
        100,
    ]
    rules.check_reservation(1000, 0, 900)
    rules.check_reservation(1000, 500, 400)
    for quota, others, requested in ((1000, 500, 401), (1000, 0, 901), (50, 0, 1), (10, 0, 1)):
        with pytest.raises(rules.Refused) as refused:
            rules.check_reservation(quota, others, requested)
        assert (refused.value.code, refused.value.message) == (
            "InvalidParameterValueException",
            below_minimum(rules.unreserved_minimum(quota)),
        )
    rules.check_reservation(1000, 900, 0)  # reserving 0 (throttling a function) takes nothing


def function(account: Account, name: str, **extra: Any) -> dict[str, Any]:
    """The properties of a function ``name`` (its code bucket and role made on first use)."""
    s3 = account.client("s3")
    bucket = "fidelity-code"
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
        s3.put_object(Bucket=bucket, Key="code.zip", Body=data.getvalue())
    iam = account.client("iam")
    try:
        role = iam.get_role(RoleName="fn")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
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
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))
        role = role["Role"]["Arn"]
    return {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Handler": "handler.handler",
        "Role": role,
        "Code": {"S3Bucket": bucket, "S3Key": "code.zip"},
        **extra,
    }


def resource(properties: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


def limits(account: Account) -> tuple[int, int]:
    limit = account.client("lambda").get_account_settings()["AccountLimit"]
    return limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]


def test_the_api_keeps_100_unreserved_on_a_1000_account(fresh_account: Account) -> None:
    lam = fresh_account.client("lambda")
    lam.create_function(**function(fresh_account, "big"))
    lam.create_function(**function(fresh_account, "small"))
    assert limits(fresh_account) == (1000, 1000)
    lam.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=850)
    assert limits(fresh_account) == (1000, 150)
    # The function's own reservation does not count against its new one.
    lam.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=900)
    assert limits(fresh_account) == (1000, 100)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        lam.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=901)
    assert refused.value.response["Error"]["Message"] == below_minimum(100)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_function_concurrency(FunctionName="small", ReservedConcurrentExecutions=1)
    assert lam.get_function_concurrency(FunctionName="big")["ReservedConcurrentExecutions"] == 900

    lam.delete_function_concurrency(FunctionName="big")
    assert limits(fresh_account) == (1000, 1000)
    lam.put_function_concurrency(FunctionName="small", ReservedConcurrentExecutions=1)
    assert limits(fresh_account) == (1000, 999)


def test_a_new_account_cannot_reserve_anything(small_account: Account) -> None:
    lam = small_account.client("lambda")
    lam.create_function(**function(small_account, "tiny"))
    assert limits(small_account) == (50, 50)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        lam.put_function_concurrency(FunctionName="tiny", ReservedConcurrentExecutions=1)
    assert refused.value.response["Error"]["Message"] == below_minimum(50)
    assert limits(small_account) == (50, 50)


def test_the_old_dev_reservations_fail_their_stack_on_a_new_account(
    small_account: Account,
) -> None:
    # The old dev: every function reserved 10.
    stack = small_account.stack(
        "old-dev",
        {
            "Plain": resource(function(small_account, "plain")),
            "Reserved": resource(
                function(small_account, "reserved", ReservedConcurrentExecutions=10)
            ),
        },
    )
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack["StackStatusReason"] == (
        "The following resource(s) failed to create: [Reserved]. Rollback requested by user."
    )
    logical_id, status, reason = small_account.failure("old-dev")
    assert (logical_id, status) == ("Reserved", "CREATE_FAILED")
    assert handler_message(reason) == (below_minimum(50), "Lambda", 400)
    # The rollback deleted the function created before it.
    names = [
        f["FunctionName"] for f in small_account.client("lambda").list_functions()["Functions"]
    ]
    assert "plain" not in names and "reserved" not in names
    # Without reservations the same stack goes through.
    stack = small_account.stack(
        "new-dev",
        {
            "Plain": resource(function(small_account, "plain")),
            "Reserved": resource(function(small_account, "reserved")),
        },
    )
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_an_update_that_over_reserves_rolls_back(fresh_account: Account) -> None:
    def template(reserved: int, **more: dict[str, Any]) -> dict[str, Any]:
        properties = function(fresh_account, "worker", ReservedConcurrentExecutions=reserved)
        return {"Worker": resource(properties), **more}

    cfn = fresh_account.client("cloudformation")
    lam = fresh_account.client("lambda")
    assert fresh_account.stack("workers", template(400))["StackStatus"] == "CREATE_COMPLETE"
    assert limits(fresh_account) == (1000, 600)

    # 400 -> 950 leaves 50.
    stack = fresh_account.update("workers", template(950))
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    logical_id, status, reason = fresh_account.failure("workers")
    assert (logical_id, status) == ("Worker", "UPDATE_FAILED")
    assert handler_message(reason) == (below_minimum(100), "Lambda", 400)
    assert (
        lam.get_function_concurrency(FunctionName="worker")["ReservedConcurrentExecutions"] == 400
    )
    assert json.loads(json.dumps(cfn.get_template(StackName="workers")["TemplateBody"])) == {
        "Resources": template(400)
    }

    # A new function whose reservation does not fit next to the old one's: the update (which
    # also lowered the old one's) rolls back whole.
    extra = resource(function(fresh_account, "extra", ReservedConcurrentExecutions=700))
    stack = fresh_account.update("workers", template(300, Extra=extra))
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert fresh_account.failure("workers")[:2] == ("Extra", "UPDATE_FAILED")
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["worker"]
    assert (
        lam.get_function_concurrency(FunctionName="worker")["ReservedConcurrentExecutions"] == 400
    )

    # What fits goes through; removing the property removes the reservation.
    assert fresh_account.update("workers", template(300))["StackStatus"] == "UPDATE_COMPLETE"
    assert limits(fresh_account) == (1000, 700)
    properties = function(fresh_account, "worker")
    stack = fresh_account.update("workers", {"Worker": resource(properties)})
    assert (stack["StackStatus"], stack.get("StackStatusReason")) == ("UPDATE_COMPLETE", None)
    assert limits(fresh_account) == (1000, 1000)
