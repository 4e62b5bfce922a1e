"""Stack drift detection, which moto 5.2.5 lacks: DetectStackDrift,
DescribeStackDriftDetectionStatus and DescribeStackResourceDrifts.

Each stack resource's template properties, resolved as moto resolved them at launch
(``clean_json``: Ref, GetAtt, Sub, parameters), are compared with the resource read back from
moto's own backend by its physical id, for the properties ``CHECKED`` names per type. As on AWS:

- only properties the template sets are compared ("Only resource properties explicitly defined
  in the stack template are checked for drift", "StackResourceDrift", CloudFormation API
  reference, https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackResourceDrift.html);
- write-only properties never are: a Lambda function's ``Code`` (its S3Bucket/S3Key are
  ``writeOnlyProperties`` in the AWS::Lambda::Function registry schema, as shipped in cfn-lint;
  an out-of-band ``UpdateFunctionCode`` is invisible to CloudFormation, as reported in
  go-to-k/cdk-real-drift#646, https://github.com/go-to-k/cdk-real-drift/issues/646), nor a
  secret's ``SecretString``/``GenerateSecretString``: so no secret value is ever compared here;
- a resource that no longer exists is ``DELETED``; a type not checked here is ``NOT_CHECKED``
  (AWS: "Any resources that don't currently support drift detection have a status of
  NOT_CHECKED", StackResourceDriftInformation);
- ``PropertyDifferences`` carry PropertyPath (a JSON pointer such as ``/Environment/Variables/X``),
  ExpectedValue, ActualValue (``null`` when removed) and DifferenceType ADD|REMOVE|NOT_EQUAL
  ("PropertyDifference", CloudFormation API reference).

Detection runs synchronously: DescribeStackDriftDetectionStatus answers DETECTION_COMPLETE at
once (AWS takes seconds; clients poll either way).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.parsing import clean_json
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult

IN_SYNC, MODIFIED, DELETED, NOT_CHECKED = "IN_SYNC", "MODIFIED", "DELETED", "NOT_CHECKED"
ADD, REMOVE, NOT_EQUAL = "ADD", "REMOVE", "NOT_EQUAL"

# The live resource's properties, in the template's names, or None if it is gone.
Reader = Callable[[str, str, str], "dict[str, Any] | None"]


def _lambda_function(account: str, region: str, name: str) -> dict[str, Any] | None:
    from moto.awslambda.models import lambda_backends

    try:
        configuration = lambda_backends[account][region].get_function(name).get_configuration()
    except Exception:  # noqa: BLE001 - moto raises its UnknownFunctionException (and others)
        return None
    return {
        "Description": configuration.get("Description", ""),
        "Environment": {"Variables": (configuration.get("Environment") or {}).get("Variables", {})},
        "Handler": configuration.get("Handler"),
        "MemorySize": configuration.get("MemorySize"),
        "Runtime": configuration.get("Runtime"),
        "Timeout": configuration.get("Timeout"),
    }


def _log_group(account: str, region: str, name: str) -> dict[str, Any] | None:
    from moto.logs.models import logs_backends

    group = logs_backends[account][region].groups.get(name)
    if group is None:
        return None
    return {"RetentionInDays": group.retention_in_days}


def _dynamodb_table(account: str, region: str, name: str) -> dict[str, Any] | None:
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[account][region].tables.get(name)
    if table is None:
        return None
    ttl = table.ttl or {}
    actual: dict[str, Any] = {"BillingMode": table.billing_mode or "PROVISIONED"}
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        actual["TimeToLiveSpecification"] = {
            "AttributeName": ttl.get("AttributeName"),
            "Enabled": True,
        }
    else:
        actual["TimeToLiveSpecification"] = {"Enabled": False}
    return actual


def _secret(account: str, region: str, name: str) -> dict[str, Any] | None:
    """Description only: the value is write-only, never read for drift."""
    from moto.secretsmanager.models import secretsmanager_backends

    try:
        secret = secretsmanager_backends[account][region].describe_secret(name)
    except Exception:  # noqa: BLE001 - moto's SecretNotFoundException
        return None
    if getattr(secret, "deleted_date", None):
        return None
    return {"Description": getattr(secret, "description", "") or ""}


# Type -> (reader, the properties it compares).
CHECKED: dict[str, tuple[Reader, tuple[str, ...]]] = {
    "AWS::Lambda::Function": (
        _lambda_function,
        ("Description", "Environment", "Handler", "MemorySize", "Runtime", "Timeout"),
    ),
    "AWS::Logs::LogGroup": (_log_group, ("RetentionInDays",)),
    "AWS::DynamoDB::Table": (_dynamodb_table, ("BillingMode", "TimeToLiveSpecification")),
    "AWS::SecretsManager::Secret": (_secret, ("Description",)),
}


def _text(value: Any) -> str:
    """A difference's value as the API carries it: strings as they are, the rest as JSON."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _scalar_equal(expected: Any, actual: Any) -> bool:
    # Templates carry numbers and booleans as strings or not ("256" is 256, "true" is True).
    if isinstance(expected, bool) or isinstance(actual, bool):
        return str(expected).lower() == str(actual).lower()
    return str(expected) == str(actual)


def differences(expected: Any, actual: Any, path: str = "") -> list[dict[str, str]]:
    """Every leaf where ``actual`` differs from ``expected``, as PropertyDifferences."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(expected.keys() | actual.keys()):
            sub = f"{path}/{key}"
            if key not in actual:
                found.append(_difference(sub, expected[key], None, REMOVE))
            elif key not in expected:
                found.append(_difference(sub, None, actual[key], ADD))
            else:
                found.extend(differences(expected[key], actual[key], sub))
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) == len(actual):
            return [
                d
                for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in differences(e, a, f"{path}/{i}")
            ]
        return [_difference(path, expected, actual, NOT_EQUAL)]
    if isinstance(expected, dict | list) or isinstance(actual, dict | list):
        return [_difference(path, expected, actual, NOT_EQUAL)]
    if actual is None and expected is not None:
        return [_difference(path, expected, None, REMOVE)]
    return (
        [] if _scalar_equal(expected, actual) else [_difference(path, expected, actual, NOT_EQUAL)]
    )


def _difference(path: str, expected: Any, actual: Any, kind: str) -> dict[str, str]:
    return {
        "PropertyPath": path,
        "ExpectedValue": _text(expected),
        "ActualValue": _text(actual),
        "DifferenceType": kind,
    }


@dataclass
class Detection:
    """One DetectStackDrift run and its results."""

    detection_id: str
    stack_id: str
    timestamp: datetime
    drifts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def drifted(self) -> int:
        return sum(d["StackResourceDriftStatus"] in (MODIFIED, DELETED) for d in self.drifts)


# Detection id -> detection; stack id -> its latest detection (what DescribeStackResourceDrifts
# reports on AWS: the results of the most recent detection).
_detections: dict[str, Detection] = {}
_latest: dict[str, str] = {}


def _resource_drift(stack: Stack, logical_id: str, now: datetime) -> dict[str, Any]:
    resource_json = stack.resource_map._resource_json_map[logical_id]
    kind = resource_json.get("Type", "")
    model = stack.resource_map[logical_id]
    physical_id = str(getattr(model, "physical_resource_id", "") or "")
    drift: dict[str, Any] = {
        "StackId": stack.stack_id,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical_id,
        "ResourceType": kind,
        "Timestamp": now,
    }
    if kind not in CHECKED or not physical_id:
        return {**drift, "StackResourceDriftStatus": NOT_CHECKED}
    reader, names = CHECKED[kind]
    template_properties = clean_json(resource_json.get("Properties") or {}, stack.resource_map)
    expected = {n: template_properties[n] for n in names if n in template_properties}
    live = reader(stack.account_id, stack.region_name, physical_id)
    if live is None:
        return {**drift, "ExpectedProperties": _text(expected), "StackResourceDriftStatus": DELETED}
    actual = {n: live.get(n) for n in expected}
    found = differences(expected, actual)
    return {
        **drift,
        "ExpectedProperties": _text(expected),
        "ActualProperties": _text(actual),
        "PropertyDifferences": found,
        "StackResourceDriftStatus": MODIFIED if found else IN_SYNC,
    }


def detect(stack: Stack) -> Detection:
    now = datetime.now(UTC)
    detection = Detection(str(uuid.uuid4()), stack.stack_id, now)
    for logical_id in stack.resource_map._resource_json_map:
        detection.drifts.append(_resource_drift(stack, logical_id, now))
    _detections[detection.detection_id] = detection
    _latest[stack.stack_id] = detection.detection_id
    return detection


def _stack(backend: CloudFormationBackend, name: str) -> Stack:
    for stack in backend.stacks.values():
        if name in (stack.name, stack.stack_id) and stack.status != "DELETE_COMPLETE":
            return stack
    raise ValidationError(name)  # moto's "Stack with id {name} does not exist"


def _detect_stack_drift(self: CloudFormationResponse) -> ActionResult:
    stack = _stack(self.cloudformation_backend, self._get_param("StackName"))
    return ActionResult({"StackDriftDetectionId": detect(stack).detection_id})


def _describe_stack_drift_detection_status(self: CloudFormationResponse) -> ActionResult:
    detection_id = self._get_param("StackDriftDetectionId")
    detection = _detections.get(detection_id)
    if detection is None:
        raise ValidationError(message=f"Drift detection {detection_id} does not exist")
    return ActionResult(
        {
            "StackId": detection.stack_id,
            "StackDriftDetectionId": detection.detection_id,
            "StackDriftStatus": "DRIFTED" if detection.drifted else IN_SYNC,
            "DetectionStatus": "DETECTION_COMPLETE",
            "DriftedStackResourceCount": detection.drifted,
            "Timestamp": detection.timestamp,
        }
    )


def _describe_stack_resource_drifts(self: CloudFormationResponse) -> ActionResult:
    stack = _stack(self.cloudformation_backend, self._get_param("StackName"))
    detection = _detections.get(_latest.get(stack.stack_id, ""))
    drifts = detection.drifts if detection else []
    wanted = self._get_param("StackResourceDriftStatusFilters", [])
    if wanted:
        drifts = [d for d in drifts if d["StackResourceDriftStatus"] in wanted]
    return ActionResult({"StackResourceDrifts": drifts})


def install() -> None:
    """Add the three drift operations to moto's CloudFormation."""
    CloudFormationResponse.detect_stack_drift = _detect_stack_drift  # type: ignore[attr-defined]
    CloudFormationResponse.describe_stack_drift_detection_status = (  # type: ignore[attr-defined]
        _describe_stack_drift_detection_status
    )
    CloudFormationResponse.describe_stack_resource_drifts = _describe_stack_resource_drifts  # type: ignore[attr-defined]
