"""Change sets that say what they would do, as CloudFormation's do.

moto 5.2.5 gets change sets wrong in ways that make a local review meaningless:
- ``Changes`` carry only Action, LogicalResourceId and ResourceType (and nothing for a parameter
  change): no Replacement, Scope, Details or PhysicalResourceId;
- "no changes" is decided on the raw template text, and CreateChangeSet with an identical
  template raises "No updates are to be performed." where AWS creates a FAILED change set
  ("The submitted information didn't contain changes. ...");
- change sets are keyed by name only: describe/delete/execute by name + stack may hit another
  stack's set, and a second set of the same name on one stack is accepted (AWS:
  AlreadyExistsException); ListChangeSets lists every stack's;
- executing a CREATE change set leaves the stack with the placeholder's empty outputs, and
  executing an UPDATE one keeps the old parameter values.

Here ``Changes`` come from a document diff of the stack's current template and parameters against
the change set's (``review.template_diff``), each modified resource with its Scope and Details
(Target Attribute/Name/RequiresRecreation/Path, Evaluation, ChangeSource, CausingEntity), and its
Replacement from the registry schemas' create-only properties plus the documented replacement
properties (``review.replacement``), with ``Dynamic`` details on resources that reference a
replaced one. Describe pages ``Changes`` by ``PAGE_SIZE`` with NextToken (AWS pages by size,
this is smaller so clients' paging is exercised). On AWS, CloudFormation's own verdict is what
the review reads; this only stands in for it locally.
"""

from __future__ import annotations

import copy
import logging
from functools import lru_cache
from typing import Any

from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult

from review.replacement import (
    ALWAYS,
    CONDITIONALLY,
    NEVER,
    REPLACEMENT_CONDITIONAL,
    REPLACEMENT_FALSE,
    REPLACEMENT_TRUE,
    create_only_properties,
    predict_change,
)
from review.template_diff import (
    ADD,
    MODIFY,
    REMOVE,
    PropertyChange,
    diff_templates,
    effective_parameters,
)
from review.template_text import parse_template

log = logging.getLogger(__name__)

NO_CHANGES = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)
PAGE_SIZE = 10
_SEVERITY = {NEVER: 0, CONDITIONALLY: 1, ALWAYS: 2}
_REPLACEMENT = {
    NEVER: REPLACEMENT_FALSE,
    CONDITIONALLY: REPLACEMENT_CONDITIONAL,
    ALWAYS: REPLACEMENT_TRUE,
}


def _document(template: Any) -> dict[str, Any]:
    if not template:
        return {}
    if isinstance(template, str):
        return _parsed(template)
    return dict(template)


@lru_cache(maxsize=64)
def _parsed(text: str) -> dict[str, Any]:
    """A template text as a document; the same texts come back on every change set (read-only)."""
    try:
        return parse_template(text)
    except Exception:  # noqa: BLE001 - moto validated it already; never fail the request here
        return {}


def _physical_id(stack: Stack, logical_id: str) -> str:
    # _parsed_resources, not resource_map[...]: indexing the map would create the resource.
    resource = stack.resource_map._parsed_resources.get(logical_id)
    return str(getattr(resource, "physical_resource_id", "") or "")


def _details(resource_type: str, change: PropertyChange, old: Any, new: Any) -> tuple[str, list]:
    prediction = predict_change(resource_type, change, old, new)
    is_tags = change.name == "Tags"
    target: dict[str, Any] = {
        "Attribute": "Tags" if is_tags else change.attribute,
        "RequiresRecreation": prediction.recreation,
    }
    if change.attribute == "Properties" and change.name:
        target["Name"] = change.name
        target["Path"] = "/" + "/".join(str(part) for part in change.path)
    if change.parameters:
        details = [
            {
                "Target": target,
                "Evaluation": "Static",
                "ChangeSource": "ParameterReference",
                "CausingEntity": parameter,
            }
            for parameter in change.parameters
        ]
    else:
        details = [{"Target": target, "Evaluation": "Static", "ChangeSource": "DirectModification"}]
    return prediction.recreation, details


def _references(value: Any) -> set[tuple[str, str]]:
    """(logical id, "Ref" or "Attr.Name") for each Ref / GetAtt in value."""
    found: set[tuple[str, str]] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str):
            found.add((value["Ref"], ""))
        elif set(value) == {"Fn::GetAtt"} and isinstance(value["Fn::GetAtt"], list):
            parts = [str(p) for p in value["Fn::GetAtt"]]
            found.add((parts[0], ".".join(parts[1:])))
        else:
            for item in value.values():
                found |= _references(item)
    return found


def compute_changes(
    old_template: dict[str, Any],
    new_template: dict[str, Any],
    old_parameters: dict[str, Any],
    new_parameters: dict[str, Any],
    physical_id: Any = lambda logical_id: "",
) -> list[dict[str, Any]]:
    """ResourceChange entries, as describe_change_set returns them."""
    diff = diff_templates(old_template, new_template, old_parameters, new_parameters)
    changes: dict[str, dict[str, Any]] = {}
    worst: dict[str, str] = {}
    for resource in diff.resources:
        entry: dict[str, Any] = {
            "Action": resource.action,
            "LogicalResourceId": resource.logical_id,
            "ResourceType": resource.resource_type,
            "Scope": [],
            "Details": [],
        }
        if resource.action != ADD:
            entry["PhysicalResourceId"] = physical_id(resource.logical_id)
        if resource.action == MODIFY:
            old = (resource.old or {}).get("Properties") or {}
            new = (resource.new or {}).get("Properties") or {}
            recreation = NEVER
            for change in resource.changes:
                level, details = _details(resource.resource_type, change, old, new)
                recreation = level if _SEVERITY[level] > _SEVERITY[recreation] else recreation
                for detail in details:
                    if detail not in entry["Details"]:
                        entry["Details"].append(detail)
            entry["Scope"] = sorted({d["Target"]["Attribute"] for d in entry["Details"]})
            entry["Replacement"] = _REPLACEMENT[recreation]
            worst[resource.logical_id] = recreation
        changes[resource.logical_id] = entry
    _add_dynamic(changes, worst, new_template, physical_id)
    return [changes[logical_id] for logical_id in sorted(changes)]


def _add_dynamic(
    changes: dict[str, dict[str, Any]],
    worst: dict[str, str],
    new_template: dict[str, Any],
    physical_id: Any,
) -> None:
    """Resources whose properties reference a replaced resource change too (Dynamic)."""
    replaced = {logical_id for logical_id, level in worst.items() if level == ALWAYS}
    if not replaced:
        return
    for logical_id, resource in (new_template.get("Resources") or {}).items():
        entry = changes.get(logical_id)
        if entry is not None and entry["Action"] in (ADD, REMOVE):
            continue
        resource_type = resource.get("Type", "")
        create_only = {str(path[0]) for path in create_only_properties(resource_type) if path}
        for name, value in (resource.get("Properties") or {}).items():
            for target, attribute in sorted(_references(value)):
                if target not in replaced:
                    continue
                if entry is None:
                    entry = changes[logical_id] = {
                        "Action": MODIFY,
                        "LogicalResourceId": logical_id,
                        "PhysicalResourceId": physical_id(logical_id),
                        "ResourceType": resource_type,
                        "Replacement": REPLACEMENT_FALSE,
                        "Scope": ["Properties"],
                        "Details": [],
                    }
                recreation = CONDITIONALLY if name in create_only else NEVER
                entry["Details"].append(
                    {
                        "Target": {
                            "Attribute": "Properties",
                            "Name": name,
                            "RequiresRecreation": recreation,
                        },
                        "Evaluation": "Dynamic",
                        "ChangeSource": "ResourceAttribute" if attribute else "ResourceReference",
                        "CausingEntity": f"{target}.{attribute}" if attribute else target,
                    }
                )
                if recreation == CONDITIONALLY and entry.get("Replacement") != REPLACEMENT_TRUE:
                    entry["Replacement"] = REPLACEMENT_CONDITIONAL


_original_parse = ChangeSet._parse_template


def _parse_change_set_template(self: ChangeSet) -> None:
    """moto parses with PyYAML's pure-Python full loader (~0.1 s a template); libyaml here."""
    document = _document(self.template)
    if not document:
        _original_parse(self)
        return
    self.template_dict = copy.deepcopy(document)  # moto may change it; the cache must not


def _stack_parameters(stack: Stack, template: dict[str, Any]) -> dict[str, str]:
    return effective_parameters(template, stack.parameters or {}) if template else {}


def _diff(self: ChangeSet) -> list[dict[str, Any]]:
    """Replaces ChangeSet.diff (called from its constructor)."""
    old = _document(self.stack.template) if self.change_set_type == "UPDATE" else {}
    new = _document(self.template)
    return compute_changes(
        old,
        new,
        _stack_parameters(self.stack, old),
        effective_parameters(new, self.parameters or {}),
        lambda logical_id: _physical_id(self.stack, logical_id),
    )


def _unchanged(change_set: ChangeSet) -> bool:
    """Same template document, parameter values and tags as the stack: nothing to do."""
    stack = change_set.stack
    old, new = _document(stack.template), _document(change_set.template)
    if old != new:
        return False
    if _stack_parameters(stack, old) != effective_parameters(new, change_set.parameters or {}):
        return False
    return not change_set.tags or change_set.tags == stack.tags


def _find(backend: CloudFormationBackend, name_or_id: str, stack_name: str | None) -> ChangeSet:
    if name_or_id in backend.change_sets:
        return backend.change_sets[name_or_id]
    matches = [
        change_set
        for change_set in backend.change_sets.values()
        if change_set.change_set_name == name_or_id
        and (not stack_name or stack_name in (change_set.stack_name, change_set.stack_id))
    ]
    if not matches:
        raise ValidationError(message=f"ChangeSet [{name_or_id}] does not exist")
    return matches[-1]


_original_create = CloudFormationBackend.create_change_set
_original_validate = CloudFormationResponse._validate_different_update


def _create_change_set(self: CloudFormationBackend, **kwargs: Any) -> tuple[str, str]:
    stack_name, name = kwargs["stack_name"], kwargs["change_set_name"]
    for existing in self.change_sets.values():
        if (
            existing.change_set_name == name
            and existing.stack_name == stack_name
            and existing.stack_id in self.stacks
        ):
            raise AlreadyExistsException(f"ChangeSet {name} already exists")
    placeholder = next(
        (
            stack
            for stack in self.stacks.values()
            if stack.name == stack_name and stack.status == "REVIEW_IN_PROGRESS"
        ),
        None,
    )
    if kwargs.get("change_set_type") == "CREATE" and placeholder is None:
        if any(stack.name == stack_name for stack in self.stacks.values()):
            raise ValidationError(
                message=f"Stack [{stack_name}] already exists and cannot be created again "
                f"with the changeSet [{name}]."
            )
    change_set_id, stack_id = _original_create(self, **kwargs)
    change_set = self.change_sets[change_set_id]
    if placeholder is not None and change_set.stack_id != placeholder.stack_id:
        # AWS keeps one REVIEW_IN_PROGRESS stack per name; moto made a second one.
        del self.stacks[change_set.stack_id]
        change_set.stack, change_set.stack_id = placeholder, placeholder.stack_id
        stack_id = placeholder.stack_id
    if change_set.change_set_type == "UPDATE" and _unchanged(change_set):
        change_set.status = "FAILED"
        change_set.execution_status = "UNAVAILABLE"
        change_set.status_reason = NO_CHANGES
        change_set.changes = []
    else:
        change_set.status = "CREATE_COMPLETE"
        change_set.execution_status = "AVAILABLE"
        change_set.status_reason = None
    return change_set_id, stack_id


def _validate_different_update(
    self: CloudFormationResponse,
    incoming_params: list[dict[str, Any]] | None,
    stack_body: str,
    old_stack: Stack,
) -> None:
    # AWS answers an unchanged CreateChangeSet with a FAILED change set, not an error.
    if self._get_action() == "CreateChangeSet":
        return
    _previous_validate(self, incoming_params, stack_body, old_stack)


_previous_validate = _original_validate


class _Page:
    """One page of a change set's description: its Changes sliced, with NextToken."""

    def __init__(self, change_set: ChangeSet, start: int) -> None:
        self._change_set = change_set
        changes = list(change_set.changes or [])
        self.changes = changes[start : start + PAGE_SIZE]
        self.next_token = str(start + PAGE_SIZE) if start + PAGE_SIZE < len(changes) else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._change_set, name)


def _describe_change_set(self: CloudFormationResponse) -> ActionResult:
    change_set = _find(
        self.cloudformation_backend,
        self._get_param("ChangeSetName"),
        self._get_param("StackName"),
    )
    token = self._get_param("NextToken")
    start = int(token) if token and str(token).isdigit() else 0
    return ActionResult(_Page(change_set, start))


def _delete_change_set(self: CloudFormationResponse) -> EmptyResult:
    backend = self.cloudformation_backend
    change_set = _find(backend, self._get_param("ChangeSetName"), self._get_param("StackName"))
    del backend.change_sets[change_set.change_set_id]
    return EmptyResult()


def _list_change_sets(self: CloudFormationResponse) -> ActionResult:
    stack_name = self._get_param("StackName")
    summaries = [
        change_set
        for change_set in self.cloudformation_backend.change_sets.values()
        if stack_name in (change_set.stack_name, change_set.stack_id)
    ]
    return ActionResult({"Summaries": summaries})


def _execute(backend: CloudFormationBackend, change_set: ChangeSet) -> None:
    stack = backend.stacks[change_set.stack_id]
    if change_set.change_set_type == "CREATE":
        # Build the stack as CreateStack would (outputs, exports, description), same id.
        created = Stack(
            stack_id=stack.stack_id,
            name=stack.name,
            template=change_set.template,
            parameters=change_set.parameters,
            account_id=backend.account_id,
            region_name=backend.region_name,
            notification_arns=change_set.notification_arns,
            tags=change_set.tags,
            role_arn=change_set.role_arn,
            cross_stack_resources=backend.exports,
        )
        created.events = stack.events
        backend.stacks[stack.stack_id] = created
        backend._validate_export_uniqueness(created)
        for export in created.exports:
            backend.exports[export.name] = export
        created._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        created.create_resources()
        change_set.stack = created
    else:
        parameters = {
            **effective_parameters(_document(stack.template), stack.parameters or {}),
            **(change_set.parameters or {}),
        }
        stack.update(
            change_set.template,
            change_set.role_arn,
            parameters=parameters,
            tags=change_set.tags or None,
        )
        for export in stack.exports:
            backend.exports[export.name] = export
    change_set.execution_status = "EXECUTE_COMPLETE"
    # AWS drops a stack's other change sets once one is executed: they no longer apply.
    for other_id, other in list(backend.change_sets.items()):
        if other.stack_id == change_set.stack_id and other is not change_set:
            del backend.change_sets[other_id]


def _execute_change_set(self: CloudFormationResponse) -> EmptyResult:
    backend = self.cloudformation_backend
    change_set = _find(backend, self._get_param("ChangeSetName"), self._get_param("StackName"))
    if change_set.execution_status != "AVAILABLE":
        raise ValidationError(
            message=f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current "
            f"status of [{change_set.status}]"
        )
    _execute(backend, change_set)
    return EmptyResult()


def install() -> None:
    """Patch moto's CloudFormation; call after noop_update.install() (it wraps that check)."""
    global _previous_validate
    _previous_validate = CloudFormationResponse._validate_different_update
    ChangeSet.diff = _diff  # type: ignore[method-assign]
    ChangeSet._parse_template = _parse_change_set_template  # type: ignore[method-assign]
    CloudFormationBackend.create_change_set = _create_change_set  # type: ignore[method-assign]
    CloudFormationResponse._validate_different_update = _validate_different_update  # type: ignore[method-assign]
    CloudFormationResponse.describe_change_set = _describe_change_set  # type: ignore[method-assign]
    CloudFormationResponse.delete_change_set = _delete_change_set  # type: ignore[method-assign]
    CloudFormationResponse.list_change_sets = _list_change_sets  # type: ignore[method-assign]
    CloudFormationResponse.execute_change_set = _execute_change_set  # type: ignore[method-assign]
