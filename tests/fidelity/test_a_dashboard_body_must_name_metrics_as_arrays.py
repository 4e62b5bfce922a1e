"""rules.check_dashboard_body: PutDashboard refuses a body whose metric lines are not arrays of
strings (an optional rendering object last), or that has no widgets array; the emulator's
AWS::CloudWatch::Dashboard provider applies it, where moto stored any body."""

from __future__ import annotations

import json
import uuid

import pytest

from aws_fidelity import rules

from .conftest import Account


def _body(*metrics: object) -> str:
    widget = {"type": "metric", "properties": {"region": "us-east-1", "metrics": list(metrics)}}
    return json.dumps({"widgets": [widget]})


def _dashboard(name: str, body: str) -> dict:
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardName": name, "DashboardBody": body},
    }


@pytest.fixture
def account(emulator_endpoint: str) -> Account:
    return Account(emulator_endpoint)


def test_the_rule() -> None:
    rules.check_dashboard_body(
        _body(["AWS/Lambda", "Errors", "FunctionName", "f", {"stat": "Sum"}])
    )
    rules.check_dashboard_body(json.dumps({"widgets": []}))
    with pytest.raises(rules.Refused) as refused:
        # A metric as an object, the mistake of pulumi/pulumi#13059.
        rules.check_dashboard_body(_body({"namespace": "AWS/Lambda", "name": "Errors"}))
    assert refused.value.code == "InvalidParameterInput"
    assert refused.value.message.startswith(
        "The dashboard body is invalid, there are 2 validation errors:"
    )
    errors = json.loads(refused.value.message.split("\n", 1)[1])
    assert errors == [
        {"dataPath": "/widgets/0/properties/metrics/0", "message": "Should be array"},
        {"dataPath": "/widgets/0/properties/metrics/0", "message": rules.DASHBOARD_METRICS_SHAPE},
    ]
    for body in ("not json", json.dumps({"start": "-PT6H"})):
        with pytest.raises(rules.Refused):
            rules.check_dashboard_body(body)


def test_a_dashboard_with_a_bad_metric_line_fails_its_stack(account: Account) -> None:
    name = f"dashboard-{uuid.uuid4().hex[:8]}"
    stack = account.stack(name, {"Board": _dashboard(name, _body(["AWS/Lambda", 7]))})
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    logical_id, status, reason = account.failure(name)
    assert (logical_id, status) == ("Board", "CREATE_FAILED")
    assert "The dashboard body is invalid" in reason
    names = account.client("cloudwatch").list_dashboards()["DashboardEntries"]
    assert name not in [entry["DashboardName"] for entry in names]


def test_a_valid_dashboard_is_kept_with_its_body(account: Account) -> None:
    name = f"dashboard-{uuid.uuid4().hex[:8]}"
    body = _body(["AWS/Lambda", "Errors", "FunctionName", "f", {"stat": "Sum"}])
    stack = account.stack(name, {"Board": _dashboard(name, body)})
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert account.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"] == body
    account.client("cloudformation").delete_stack(StackName=name)
    names = account.client("cloudwatch").list_dashboards()["DashboardEntries"]
    assert name not in [entry["DashboardName"] for entry in names]
