"""rules.check_metric_filter_log_group: a metric filter is made only on a log group that exists
(the public stage's 429 filter is declared with its access log, in the routes stack, for this);
the emulator's AWS::Logs::MetricFilter provider creates filters moto skipped."""

from __future__ import annotations

import uuid

import pytest

from aws_fidelity import rules

from .conftest import Account, handler_message


def _filter(group: str | dict) -> dict:
    return {
        "Type": "AWS::Logs::MetricFilter",
        "Properties": {
            "LogGroupName": group,
            "FilterPattern": '{ $.status = "429" }',
            "MetricTransformations": [
                {
                    "MetricNamespace": "http-tunnel",
                    "MetricName": "PublicThrottled-test",
                    "MetricValue": "1",
                    "DefaultValue": 0,
                }
            ],
        },
    }


@pytest.fixture
def account(emulator_endpoint: str) -> Account:
    return Account(emulator_endpoint)


def test_the_rule() -> None:
    with pytest.raises(rules.Refused) as refused:
        rules.check_metric_filter_log_group(False)
    assert (refused.value.code, refused.value.status) == ("ResourceNotFoundException", 400)
    assert refused.value.message == "The specified log group does not exist."
    rules.check_metric_filter_log_group(True)


def test_a_filter_on_a_missing_group_fails_its_stack(account: Account) -> None:
    name = f"filter-{uuid.uuid4().hex[:8]}"
    stack = account.stack(name, {"Throttled": _filter(f"/aws/vendedlogs/{name}")})
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    logical_id, status, reason = account.failure(name)
    assert (logical_id, status) == ("Throttled", "CREATE_FAILED")
    assert handler_message(reason)[0] == "The specified log group does not exist."


def test_a_filter_with_its_group_counts_into_its_metric(account: Account) -> None:
    name = f"filter-{uuid.uuid4().hex[:8]}"
    group = f"/aws/vendedlogs/apigateway/{name}"
    stack = account.stack(
        name,
        {
            "Log": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": group}},
            "Throttled": _filter({"Ref": "Log"}),
        },
    )
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    [found] = account.client("logs").describe_metric_filters(logGroupName=group)["metricFilters"]
    assert found["filterPattern"] == '{ $.status = "429" }'
    assert found["metricTransformations"][0]["metricName"] == "PublicThrottled-test"
    account.client("cloudformation").delete_stack(StackName=name)
    assert not account.client("logs").describe_metric_filters(logGroupName=group)["metricFilters"]
