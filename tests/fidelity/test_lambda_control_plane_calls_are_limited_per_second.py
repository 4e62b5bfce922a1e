"""rules.check_lambda_request_rate: Lambda's control-plane calls (all but the invocations,
GetFunction and GetPolicy) share 15 requests per second per account and region; the 16th within
a second is refused, 429 TooManyRequestsException "Rate exceeded". GetFunction has a quota of its
own (100/s), so it still answers then. moto never throttles."""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from aws_fidelity import rules

NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


def error_of(call: Any) -> tuple[int, str, str]:
    try:
        call()
    except ClientError as error:
        return (
            int(error.response["ResponseMetadata"]["HTTPStatusCode"]),
            error.response["Error"]["Code"],
            error.response["Error"]["Message"],
        )
    raise AssertionError("not refused")


def test_the_control_plane_is_refused_beyond_15_per_second(fresh_account: Any):
    lam = fresh_account.session.client("lambda", endpoint_url=fresh_account.url, config=NO_RETRIES)
    accepted, refusal = 0, None
    # Back to back, far faster than 15/s; bounded in case the machine is slower than that.
    for _ in range(200):
        try:
            lam.list_functions()
        except ClientError as error:
            refusal = error
            break
        accepted += 1
    assert refusal is not None, "never refused"
    assert accepted >= rules.LAMBDA_CONTROL_PLANE_PER_SECOND
    assert (
        refusal.response["ResponseMetadata"]["HTTPStatusCode"],
        refusal.response["Error"]["Code"],
        refusal.response["Error"]["Message"],
    ) == (429, "TooManyRequestsException", "Rate exceeded")
    # Another control-plane operation shares the quota; GetFunction does not.
    assert error_of(lambda: lam.get_function_configuration(FunctionName="none"))[1] == (
        "TooManyRequestsException"
    )
    assert error_of(lambda: lam.get_function(FunctionName="none"))[1] == (
        "ResourceNotFoundException"
    )


def test_the_quotas_as_the_lambda_quotas_page_gives_them():
    assert rules.lambda_request_quota("GetFunction") == ("GetFunction", 100)
    assert rules.lambda_request_quota("GetPolicy") == ("GetPolicy", 15)
    assert rules.lambda_request_quota("UpdateFunctionCode") == ("control plane", 15)
    assert rules.lambda_request_quota("GetFunctionConfiguration") == ("control plane", 15)
    assert rules.lambda_request_quota("Invoke") is None
