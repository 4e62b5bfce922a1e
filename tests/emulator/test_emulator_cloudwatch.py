"""AWS::CloudWatch::Alarm stacks create, update and delete real alarms."""

from __future__ import annotations

import copy
from typing import Any

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Threshold": {"Type": "Number", "Default": "5"}},
    "Resources": {
        "Alerts": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "tunnel-alerts"}},
        "ErrorsAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": "tunnel-connect-errors",
                "AlarmDescription": "connect handler errors",
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": "connect"}],
                "Statistic": "Sum",
                "Period": 60,
                "EvaluationPeriods": 3,
                "DatapointsToAlarm": 2,
                "Threshold": {"Ref": "Threshold"},
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "Alerts"}],
            },
        },
        "UnnamedAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Namespace": "AWS/ApiGateway",
                "MetricName": "5xx",
                "Statistic": "Sum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        },
    },
    "Outputs": {
        "AlarmName": {"Value": {"Ref": "ErrorsAlarm"}},
        "AlarmArn": {"Value": {"Fn::GetAtt": ["ErrorsAlarm", "Arn"]}},
        "UnnamedAlarmName": {"Value": {"Ref": "UnnamedAlarm"}},
    },
}


def _alarm(aws: Any, name: str) -> dict[str, Any]:
    (alarm,) = aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarm


def test_alarm_is_created_updated_and_deleted(stacks: Any, aws: Any) -> None:
    name = stacks.create(TEMPLATE)
    out = stacks.outputs(name)
    assert out["AlarmName"] == "tunnel-connect-errors"
    assert (
        out["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:tunnel-connect-errors"
    )

    alarm = _alarm(aws, "tunnel-connect-errors")
    topic_arn = stacks.physical_ids(name)["Alerts"]
    assert alarm["Threshold"] == 5.0
    assert alarm["AlarmActions"] == [topic_arn]
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "connect"}]
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["Period"]) == (3, 2, 60)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"

    # A name CloudFormation generated: <stack>-<logical id>-<suffix>.
    generated = out["UnnamedAlarmName"]
    assert generated.startswith(f"{name}-UnnamedAlarm-")
    assert _alarm(aws, generated)["MetricName"] == "5xx"

    changed = copy.deepcopy(TEMPLATE)
    changed["Resources"]["ErrorsAlarm"]["Properties"]["EvaluationPeriods"] = 5
    stacks.update(name, changed, {"Threshold": "12"})
    alarm = _alarm(aws, "tunnel-connect-errors")
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (12.0, 5)
    assert stacks.outputs(name)["UnnamedAlarmName"] == generated  # untouched, same name

    stacks.delete(name)
    left = aws("cloudwatch").describe_alarms(AlarmNames=["tunnel-connect-errors", generated])
    assert left["MetricAlarms"] == []


def test_renaming_an_alarm_replaces_it(stacks: Any, aws: Any) -> None:
    name = stacks.create(TEMPLATE)
    renamed = copy.deepcopy(TEMPLATE)
    renamed["Resources"]["ErrorsAlarm"]["Properties"]["AlarmName"] = "tunnel-connect-errors-v2"
    stacks.update(name, renamed)
    names = {a["AlarmName"] for a in aws("cloudwatch").describe_alarms()["MetricAlarms"]}
    assert "tunnel-connect-errors-v2" in names
    assert "tunnel-connect-errors" not in names
    assert stacks.outputs(name)["AlarmName"] == "tunnel-connect-errors-v2"
