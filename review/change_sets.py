"""CloudFormation change sets: create one, wait for it, describe it in full, classify it.

Every call goes through ``Call`` (``call(command, kwargs) -> response``), which the planner binds
to the stack's Sceptre connection manager (profile, region, role, AWS_ENDPOINT_URL) and tests bind
to fixtures. Sceptre's own ``create`` swallows errors and ``update -c`` deletes the set afterwards;
here a failure is an outcome the review shows, and the set stays for ``deploy``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

Call = Callable[[str, dict[str, Any]], dict[str, Any]]

NAME_PREFIX = "review-"
CHANGES, NO_CHANGES, FAILED = "changes", "no_changes", "failed"
_NO_CHANGE_REASONS = ("didn't contain changes", "no updates are to be performed")
_IN_PROGRESS = ("CREATE_PENDING", "CREATE_IN_PROGRESS", "DELETE_PENDING", "DELETE_IN_PROGRESS")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


@dataclass(frozen=True)
class ChangeDetail:
    """One ResourceChangeDetail: what changed (Target), how it is known, and what caused it."""

    attribute: str
    name: str
    requires_recreation: str
    evaluation: str
    change_source: str
    causing_entity: str

    @property
    def text(self) -> str:
        target = self.name or self.attribute
        cause = f" by {self.causing_entity}" if self.causing_entity else ""
        recreation = f", recreation {self.requires_recreation}" if self.requires_recreation else ""
        return f"{target} ({self.change_source or self.evaluation}{cause}{recreation})"


@dataclass(frozen=True)
class ResourceChange:
    action: str
    logical_id: str
    physical_id: str
    resource_type: str
    replacement: str  # True, False, Conditional, or "" (Add and Remove carry none)
    scope: tuple[str, ...]
    details: tuple[ChangeDetail, ...]


@dataclass(frozen=True)
class ChangeSetOutcome:
    """What CloudFormation made of the change set."""

    kind: str  # changes, no_changes or failed
    status: str
    execution_status: str
    reason: str
    changes: tuple[ResourceChange, ...]
    change_set_id: str = ""


def change_set_name(
    stack_name: str, template: str, parameters: Mapping[str, Any], tags: Any
) -> str:
    """``review-<12 hex>`` from what is sent: same inputs, same name; stacks never share one."""
    return NAME_PREFIX + inputs_digest(stack_name, template, parameters, tags)[:12]


def inputs_digest(stack_name: str, template: str, parameters: Mapping[str, Any], tags: Any) -> str:
    document = {"stack": stack_name, "template": template, "parameters": parameters, "tags": tags}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def no_changes(reason: str) -> bool:
    """CloudFormation's two ways of saying a change set has nothing in it."""
    lowered = (reason or "").lower()
    return any(marker in lowered for marker in _NO_CHANGE_REASONS)


def _summaries(call: Call, stack_name: str) -> list[dict[str, Any]]:
    try:
        response = call("list_change_sets", {"StackName": stack_name})
    except ClientError:
        return []  # no such stack yet: no change sets either
    return [s for s in response.get("Summaries", []) if s.get("StackName") in (None, stack_name)]


def create(
    call: Call,
    *,
    stack_name: str,
    name: str,
    change_set_type: str,
    request: Mapping[str, Any],
) -> str:
    """Create the review's change set for a stack and return its id.

    A set of the same name was made from the same inputs: it is kept while CloudFormation can
    still execute it. A FAILED or executed one may be stale (the stack changed since), so it is
    deleted and made again; so are the stack's other ``review-*`` sets, which describe states
    nobody will deploy.
    """
    for summary in _summaries(call, stack_name):
        current = str(summary.get("ChangeSetName", ""))
        if current == name and summary.get("ExecutionStatus") == "AVAILABLE":
            return str(summary["ChangeSetId"])
        if current.startswith(NAME_PREFIX) and summary.get("ExecutionStatus") != (
            "EXECUTE_IN_PROGRESS"
        ):
            try:
                call("delete_change_set", {"ChangeSetName": summary["ChangeSetId"]})
            except ClientError:
                pass  # already gone: nothing to clean
    kwargs = {
        **request,
        "StackName": stack_name,
        "ChangeSetName": name,
        "ChangeSetType": change_set_type,
        "Capabilities": CAPABILITIES,
    }
    return str(call("create_change_set", kwargs)["Id"])


def describe_all(call: Call, change_set_id: str) -> dict[str, Any]:
    """The whole description: every page of Changes (NextToken), in one response."""
    response = call("describe_change_set", {"ChangeSetName": change_set_id})
    description = dict(response)
    changes = list(response.get("Changes", []))
    token = response.get("NextToken")
    while token:
        page = call("describe_change_set", {"ChangeSetName": change_set_id, "NextToken": token})
        changes.extend(page.get("Changes", []))
        token = page.get("NextToken")
    description["Changes"] = changes
    description.pop("NextToken", None)
    return description


def wait(
    pending: list[tuple[Call, str]],
    poll_seconds: float = 2.0,
    timeout_seconds: float = 900.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, dict[str, Any]]:
    """Poll until no set is still being created; id -> its complete description.

    Each set is polled through its own stack's ``Call``; the first look is immediate.
    """
    deadline = time.monotonic() + timeout_seconds
    waiting = list(pending)
    done: dict[str, dict[str, Any]] = {}
    while waiting:
        for call, change_set_id in list(waiting):
            description = describe_all(call, change_set_id)
            if description.get("Status") not in _IN_PROGRESS:
                done[change_set_id] = description
                waiting.remove((call, change_set_id))
        if waiting:
            if time.monotonic() > deadline:
                ids = ", ".join(change_set_id for _, change_set_id in waiting)
                raise TimeoutError(f"change sets still being created: {ids}")
            sleep(poll_seconds)
    return done


def classify(description: Mapping[str, Any]) -> ChangeSetOutcome:
    """A describe_change_set response as an outcome the review can show."""
    status = str(description.get("Status", ""))
    reason = str(description.get("StatusReason") or "")
    execution = str(description.get("ExecutionStatus", ""))
    changes = tuple(_resource_change(change) for change in description.get("Changes", []))
    if status == "FAILED":
        kind = NO_CHANGES if no_changes(reason) else FAILED
    elif status == "CREATE_COMPLETE" and execution == "AVAILABLE":
        kind = CHANGES
    else:
        # Created but not executable (OBSOLETE, already executed, ...) or never created.
        kind = FAILED
        reason = reason or f"change set is {status or 'unknown'}/{execution or 'unknown'}"
    return ChangeSetOutcome(
        kind, status, execution, reason, changes, str(description.get("ChangeSetId", ""))
    )


def _resource_change(change: Mapping[str, Any]) -> ResourceChange:
    resource = change.get("ResourceChange") or {}
    details = []
    for detail in resource.get("Details", []):
        target = detail.get("Target") or {}
        details.append(
            ChangeDetail(
                attribute=str(target.get("Attribute", "")),
                name=str(target.get("Name", "")),
                requires_recreation=str(target.get("RequiresRecreation", "")),
                evaluation=str(detail.get("Evaluation", "")),
                change_source=str(detail.get("ChangeSource", "")),
                causing_entity=str(detail.get("CausingEntity", "")),
            )
        )
    return ResourceChange(
        action=str(resource.get("Action", "")),
        logical_id=str(resource.get("LogicalResourceId", "")),
        physical_id=str(resource.get("PhysicalResourceId", "")),
        resource_type=str(resource.get("ResourceType", "")),
        replacement=str(resource.get("Replacement", "")),
        scope=tuple(str(s) for s in resource.get("Scope", [])),
        details=tuple(details),
    )
