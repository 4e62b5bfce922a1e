"""``python -m review.drift ENV``: drift detection on every stack of an environment, failing on
any drift that ``make sync`` does not explain.

``sceptre drift detect`` exits 0 whatever drift it finds. Here every deployed stack of the
environment (Sceptre's own graph, as ``make review`` reads it: ``review.environment``) gets a
``DetectStackDrift``, all started before any is polled with ``DescribeStackDriftDetectionStatus``;
then ``DescribeStackResourceDrifts`` lists the MODIFIED and DELETED resources, one line per
property difference. Sources: "DetectStackDrift", "DescribeStackDriftDetectionStatus",
"DescribeStackResourceDrifts", CloudFormation API reference,
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackDrift.html.

What CloudFormation cannot see, this adds: a function's code. ``Code`` is write-only in the
AWS::Lambda::Function schema, so drift detection never compares it and an out-of-band
``UpdateFunctionCode`` shows as IN_SYNC (go-to-k/cdk-real-drift#646, "out-of-band Lambda function
CODE swap is INVISIBLE", https://github.com/go-to-k/cdk-real-drift/issues/646). For each function
whose template takes its code from ``Code.S3Bucket``/``Code.S3Key`` parameters, the deployed
``CodeSha256`` is compared with the zip the stack's parameter names (its keys are the zip's
SHA-256: tunnel_infra/packaging.py). Code that differs is **explained by make sync** when the
zip it runs is in the artifacts bucket under the same content-addressed key: ``make sync``
uploads exactly there before ``UpdateFunctionCode``, so that key is its mark. Code whose zip is
nowhere there came from outside the project's tools: a surprise.

Values are shortened, and none of a secret's is ever printed (a secret's value is write-only, so
CloudFormation never compares it either; any difference under a secret's value is hidden anyway).
Exit 0: no drift, or only drift that sync explains; 1: drift; 2: detection could not run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aws_fidelity.lambda_code import code_sha256_hex
from review.environment import Environment, EnvironmentStack
from review.template_text import parse_template

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
POLL_SECONDS = 2.0
TIMEOUT_SECONDS = 600.0
VALUE_CHARACTERS = 40
EXPLAINED = "explained by make sync"
HIDDEN = "(value hidden)"
# Property names whose values are secrets wherever they appear (a secret's value, a password).
SECRET_PROPERTIES = ("SecretString", "GenerateSecretString", "SecretBinary", "Password")
# Of a secret, only these are ever shown: the rest would be, or describe, its value.
SECRET_TYPE = "AWS::SecretsManager::Secret"
SECRET_SHOWN = ("/Description", "/Name", "/KmsKeyId", "/Tags", "/ReplicaRegions")
CODE_PATH = "Code (CodeSha256)"

Call = Callable[[str, str, dict[str, Any]], dict[str, Any]]


class DriftError(Exception):
    """Detection could not run; the message is the one line shown."""


@dataclass(frozen=True)
class Drift:
    """One drifted property (or resource, when DELETED) of one stack."""

    stack: str
    logical_id: str
    resource_type: str
    status: str  # MODIFIED, DELETED, or CODE (what CloudFormation does not compare)
    path: str = ""
    expected: str = ""
    actual: str = ""
    explained: bool = False

    @property
    def line(self) -> str:
        where = f"{self.stack}  {self.logical_id}  {self.resource_type}"
        if self.status == "DELETED":
            text = f"{where}  DELETED"
        else:
            text = f"{where}  {self.path}  {self.expected} → {self.actual}"
        return f"{text}  ({EXPLAINED})" if self.explained else text


@dataclass
class StackDrift:
    """A stack's drift: what was found, and why a stack was not checked."""

    name: str
    external_name: str
    drifts: list[Drift] = field(default_factory=list)
    skipped: str = ""  # not deployed, or detection failed: why
    failed: bool = False

    @property
    def surprises(self) -> list[Drift]:
        return [d for d in self.drifts if not d.explained]


def shorten(value: str, limit: int = VALUE_CHARACTERS) -> str:
    """One line, at most ``limit`` characters: long ARNs and documents end in ``…``."""
    flat = " ".join(str(value).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def is_secret(resource_type: str, path: str) -> bool:
    """Whether a property's value may be (part of) a secret and must not be shown."""
    segments = path.strip("/").split("/")
    if any(s in SECRET_PROPERTIES for s in segments):
        return True
    if resource_type == SECRET_TYPE:
        return not any(path == p or path.startswith(p + "/") for p in SECRET_SHOWN)
    return False


def property_drifts(stack: str, resource: dict[str, Any]) -> list[Drift]:
    """The lines of one StackResourceDrift (MODIFIED or DELETED)."""
    kind = resource.get("ResourceType", "")
    logical_id = resource.get("LogicalResourceId", "")
    status = resource.get("StackResourceDriftStatus", "")
    if status == "DELETED":
        return [Drift(stack, logical_id, kind, status)]
    found = []
    for difference in resource.get("PropertyDifferences") or []:
        path = str(difference.get("PropertyPath", ""))
        if is_secret(kind, path):
            expected = actual = HIDDEN
        else:
            expected = shorten(difference.get("ExpectedValue", ""))
            actual = shorten(difference.get("ActualValue", ""))
        found.append(Drift(stack, logical_id, kind, status, path, expected, actual))
    return found or [Drift(stack, logical_id, kind, status, "(no property named)")]


def _paged(call: Call, service: str, command: str, kwargs: dict[str, Any], key: str) -> list:
    items: list[Any] = []
    while True:
        page = call(service, command, kwargs)
        items += page.get(key) or []
        if not page.get("NextToken"):
            return items
        kwargs = {**kwargs, "NextToken": page["NextToken"]}


def _call(entry: EnvironmentStack) -> Call:
    def call(service: str, command: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        return entry.stack.connection_manager.call(service, command, kwargs)

    return call


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) and len(value) == 1 else None


def code_drifts(env: Environment, entry: EnvironmentStack) -> list[Drift]:
    """Functions whose deployed code is not the zip their stack's parameters name."""
    template = env.deployed_template(entry.stack)
    if template is None:
        return []
    document = template if isinstance(template, dict) else parse_template(template)
    parameters = env.deployed_parameters(entry.stack)
    call = _call(entry)
    functions = {
        logical_id: resource
        for logical_id, resource in (document.get("Resources") or {}).items()
        if resource.get("Type") == "AWS::Lambda::Function"
    }
    if not functions:
        return []
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in _paged(
            call,
            "cloudformation",
            "list_stack_resources",
            {"StackName": entry.external_name},
            "StackResourceSummaries",
        )
    }
    found = []
    for logical_id, resource in sorted(functions.items()):
        code = (resource.get("Properties") or {}).get("Code") or {}
        bucket = parameters.get(_ref(code.get("S3Bucket")) or "")
        key = parameters.get(_ref(code.get("S3Key")) or "")
        name = physical.get(logical_id)
        if not (bucket and key and name):
            continue  # inline code, a literal key, or no function: nothing to compare
        try:
            configuration = call("lambda", "get_function", {"FunctionName": name})["Configuration"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                continue  # CloudFormation's drift reports it DELETED
            raise
        deployed = code_sha256_hex(str(configuration.get("CodeSha256", ""))) or "?"
        folder, _, file = key.rpartition("/")
        expected = file.removesuffix(".zip")
        if deployed == expected:
            continue
        synced_key = f"{folder}/{deployed}.zip"
        found.append(
            Drift(
                entry.name,
                logical_id,
                "AWS::Lambda::Function",
                "CODE",
                CODE_PATH,
                shorten(expected, 12),
                shorten(deployed, 12),
                explained=_exists(call, bucket, synced_key),
            )
        )
    return found


def _exists(call: Call, bucket: str, key: str) -> bool:
    try:
        call("s3", "head_object", {"Bucket": bucket, "Key": key})
        return True
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def detect(env: Environment, poll_seconds: float = POLL_SECONDS) -> list[StackDrift]:
    """Every stack's drift: all detections started, then each polled to its end."""
    results: dict[str, StackDrift] = {}
    started: dict[str, tuple[EnvironmentStack, str]] = {}
    for entry in env:
        result = results[entry.name] = StackDrift(entry.name, entry.external_name)
        if not env.deployed(entry.stack):
            result.skipped = f"not deployed ({env.status(entry.stack) or 'no stack'})"
            continue
        response = _call(entry)(
            "cloudformation", "detect_stack_drift", {"StackName": entry.external_name}
        )
        started[entry.name] = (entry, response["StackDriftDetectionId"])
    deadline = time.monotonic() + TIMEOUT_SECONDS
    pending = dict(started)
    while pending:
        for name, (entry, detection_id) in list(pending.items()):
            status = _call(entry)(
                "cloudformation",
                "describe_stack_drift_detection_status",
                {"StackDriftDetectionId": detection_id},
            )
            if status.get("DetectionStatus") == "DETECTION_IN_PROGRESS":
                continue
            del pending[name]
            if status.get("DetectionStatus") == "DETECTION_FAILED":
                # Results exist for the resources it could check; the rest is the reason.
                results[name].failed = True
                results[name].skipped = "detection failed: " + shorten(
                    str(status.get("DetectionStatusReason", "no reason given")), 200
                )
        if pending:
            if time.monotonic() > deadline:
                raise DriftError(
                    f"drift detection still in progress after {TIMEOUT_SECONDS:.0f} s: "
                    + ", ".join(sorted(pending))
                )
            time.sleep(poll_seconds)
    for name, (entry, _) in started.items():
        drifted = _paged(
            _call(entry),
            "cloudformation",
            "describe_stack_resource_drifts",
            {
                "StackName": entry.external_name,
                "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"],
            },
            "StackResourceDrifts",
        )
        for resource in sorted(drifted, key=lambda r: r.get("LogicalResourceId", "")):
            results[name].drifts += property_drifts(name, resource)
        results[name].drifts += code_drifts(env, entry)
    return list(results.values())


def environment_drift(project: Path, environment: str) -> list[StackDrift]:
    """``detect`` on the environment's stacks; AWS failures become one DriftError line."""
    try:
        return detect(Environment(project, environment))
    except ClientError as error:
        detail = error.response.get("Error", {})
        raise DriftError(
            f"AWS refused a call: {detail.get('Code')}: {detail.get('Message')}"
        ) from None
    except BotoCoreError as error:
        raise DriftError(f"cannot reach AWS: {error}") from None


def summary(stacks: Iterable[StackDrift]) -> str:
    stacks = list(stacks)
    drifts = [d for s in stacks for d in s.drifts]
    surprises = [d for d in drifts if not d.explained]
    explained = len(drifts) - len(surprises)
    if not drifts:
        return "no drift"
    if not surprises:
        return f"no drift but {explained} explained by make sync"
    extra = f" ({explained} more explained by make sync)" if explained else ""
    return f"DRIFT: {len(surprises)} drifted propert{'y' if len(surprises) == 1 else 'ies'}{extra}"


def report(environment: str, stacks: list[StackDrift]) -> list[str]:
    checked = [s for s in stacks if not s.skipped or s.failed]
    lines = [f"Drift of {environment}: {len(checked)} of {len(stacks)} stack(s) checked"]
    for stack in stacks:
        if stack.skipped:
            lines.append(f"{stack.name}  {stack.skipped}")
        lines += [drift.line for drift in stack.drifts]
    lines.append(summary(stacks))
    return lines


def exit_code(stacks: list[StackDrift]) -> int:
    if any(s.surprises for s in stacks):
        return EXIT_DRIFT
    if any(s.failed for s in stacks):
        return EXIT_ERROR
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m review.drift", description=__doc__.split("\n")[0]
    )
    parser.add_argument("environment", help="a StackGroup under config/: dev, staging, prod")
    parser.add_argument("--project", type=Path, default=Path("."), help="the Sceptre project")
    args = parser.parse_args(argv)
    if not (args.project / "config" / args.environment).is_dir():
        print(
            f"{args.environment!r} is not an environment: no folder config/{args.environment}/",
            file=sys.stderr,
        )
        return EXIT_ERROR
    try:
        stacks = environment_drift(args.project.resolve(), args.environment)
    except Exception as error:  # noqa: BLE001 - config and AWS errors: one line, no traceback
        print(f"drift failed: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_ERROR
    print("\n".join(report(args.environment, stacks)))
    return exit_code(stacks)


if __name__ == "__main__":
    sys.exit(main())
