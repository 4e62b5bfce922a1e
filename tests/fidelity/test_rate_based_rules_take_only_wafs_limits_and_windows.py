"""rules.check_rate_based_rules: a rate-based rule's Limit must be 10 to 2,000,000,000 and its
EvaluationWindowSec 60, 120, 300 or 600. moto created a web ACL with any numbers, so a limit of
5 or a 30 s window launched here and failed on AWS."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from aws_fidelity import rules
from tests.waf.templates import template

from .conftest import Account

MODEL_VALIDATION = re.compile(
    r'Resource handler returned message: "(?P<message>.*)" \(RequestToken: [0-9a-f-]+, '
    r"HandlerErrorCode: InvalidRequest\)"
)


def rate_rule(limit: object, window: object = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"AggregateKeyType": "IP", "Limit": limit}
    if window is not None:
        statement["EvaluationWindowSec"] = window
    return {
        "Name": "per-client",
        "Priority": 0,
        "Statement": {"RateBasedStatement": statement},
        "Action": {"Block": {}},
        "VisibilityConfig": {
            "CloudWatchMetricsEnabled": False,
            "MetricName": "per-client",
            "SampledRequestsEnabled": False,
        },
    }


def refusal(rule: dict[str, Any], cloudformation: bool) -> rules.Refused:
    with pytest.raises(rules.Refused) as refused:
        rules.check_rate_based_rules([rate_rule(100), rule], cloudformation)
    return refused.value


def test_the_rule() -> None:
    cfn = refusal(rate_rule(9), cloudformation=True)
    assert (cfn.code, cfn.message) == (
        rules.MODEL_VALIDATION,
        "Model validation failed (#/Rules/1/Statement/RateBasedStatement/Limit: failed "
        "validation constraint for keyword [minimum])",
    )
    assert "keyword [maximum]" in refusal(rate_rule(2_000_000_001), True).message
    assert "EvaluationWindowSec: failed validation constraint for keyword [enum]" in (
        refusal(rate_rule(100, 30), True).message
    )
    api = refusal(rate_rule(100, 30), cloudformation=False)
    assert (api.code, api.status) == ("WAFInvalidParameterException", 400)
    assert api.message.endswith("field: RATE_BASED_STATEMENT, parameter: 30")
    # WAF's bounds themselves, and the default window, are taken; a parameter's digits too.
    for limit, window in [(10, 60), (2_000_000_000, 600), ("250", "120"), (100, None)]:
        rules.check_rate_based_rules([rate_rule(limit, window)], cloudformation=True)


def create_web_acl(client: Any, rule: dict[str, Any]) -> None:
    client.create_web_acl(
        Name=f"acl-{uuid.uuid4().hex[:8]}",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        Rules=[rule],
        VisibilityConfig={
            "CloudWatchMetricsEnabled": False,
            "MetricName": "acl",
            "SampledRequestsEnabled": False,
        },
    )


def test_create_web_acl_refuses_a_window_waf_does_not_have(aws: Any) -> None:
    with pytest.raises(ClientError) as raised:
        create_web_acl(aws("wafv2"), rate_rule(100, 30))
    error = raised.value.response["Error"]
    assert error["Code"] == "WAFInvalidParameterException"
    assert "field: RATE_BASED_STATEMENT, parameter: 30" in error["Message"]
    # boto3 refuses a limit under 10 before sending it (botocore's model: min 10)...
    with pytest.raises(ParamValidationError):
        create_web_acl(aws("wafv2"), rate_rule(5))


def test_create_web_acl_refuses_a_limit_under_10_that_reaches_it(emulator_endpoint: str) -> None:
    # ...and WAF refuses it too when a client does not check.
    client = boto3.session.Session().client("wafv2", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as raised:
        create_web_acl(client, rate_rule(5))
    assert raised.value.response["Error"]["Code"] == "WAFInvalidParameterException"


@pytest.fixture
def account(emulator_endpoint: str) -> Account:
    return Account(emulator_endpoint)


def test_a_stack_with_a_limit_under_10_fails_and_rolls_back(account: Account) -> None:
    body = template()
    body["Resources"]["EdgeWebAcl"]["Properties"]["Rules"][1]["Statement"]["RateBasedStatement"][
        "Limit"
    ] = 5
    stack = account.stack(f"waf-{uuid.uuid4().hex[:8]}", template=json.dumps(body))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    logical_id, status, reason = account.failure(stack["StackName"])
    assert (logical_id, status) == ("EdgeWebAcl", "CREATE_FAILED")
    match = MODEL_VALIDATION.fullmatch(reason)
    assert match, reason
    assert match["message"] == (
        "Model validation failed (#/Rules/1/Statement/RateBasedStatement/Limit: failed "
        "validation constraint for keyword [minimum])"
    )
    listed = account.client("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"]
    assert "http-tunnel-edge-prod" not in {acl["Name"] for acl in listed}
