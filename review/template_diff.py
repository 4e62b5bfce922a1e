"""Offline template diff: resources added, modified (with property paths) and removed.

Both sides are compared with their parameter values substituted (``Ref`` to a parameter and
``${Param}`` in ``Fn::Sub``), so a new function code key - a parameter - shows up as the
``Properties.Code.S3Key`` it feeds, and each changed path says whether the template itself changed
there or only a parameter value did. Standard library only: the emulator uses it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

PathSegment = str | int
PropertyPath = tuple[PathSegment, ...]

ADD, MODIFY, REMOVE = "Add", "Modify", "Remove"
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


@dataclass(frozen=True)
class PropertyChange:
    """One changed place in a resource: ``("Properties", "KeySchema", 0, "AttributeName")``."""

    path: PropertyPath
    kind: str  # "add", "remove" or "modify", as seen at this path
    parameters: tuple[str, ...] = ()  # the parameters whose new values changed it; () = edited

    @property
    def attribute(self) -> str:
        """The resource attribute changed: Properties, Metadata, DeletionPolicy, ..."""
        return str(self.path[0])

    @property
    def name(self) -> str:
        """The top-level property (or the attribute itself outside Properties)."""
        return str(self.path[1]) if self.attribute == "Properties" and len(self.path) > 1 else ""

    @property
    def property_path(self) -> PropertyPath:
        """The path below ``Properties`` (what registry schemas call ``/properties/...``)."""
        return self.path[1:] if self.attribute == "Properties" else ()

    @property
    def text(self) -> str:
        return path_text(self.path)

    @property
    def cause(self) -> str:
        if not self.parameters:
            return "template"
        return "parameter " + ", ".join(self.parameters)


@dataclass(frozen=True)
class ResourceDiff:
    logical_id: str
    resource_type: str
    action: str  # Add, Modify or Remove
    changes: tuple[PropertyChange, ...] = ()
    old: Mapping[str, Any] | None = None  # the resource as deployed, parameters substituted
    new: Mapping[str, Any] | None = None  # the resource as rendered, parameters substituted


@dataclass(frozen=True)
class TemplateDiff:
    resources: tuple[ResourceDiff, ...]
    parameters: dict[str, tuple[str | None, str | None]]  # name -> (deployed, rendered)
    outputs: dict[str, str]  # output key -> Add, Modify or Remove

    def count(self, action: str) -> int:
        return sum(1 for resource in self.resources if resource.action == action)

    @property
    def empty(self) -> bool:
        return not self.resources and not self.parameters and not self.outputs


def path_text(path: PropertyPath) -> str:
    """``Properties.KeySchema[0].AttributeName``."""
    text = ""
    for segment in path:
        text += f"[{segment}]" if isinstance(segment, int) else f".{segment}" if text else segment
    return text


def effective_parameters(
    template: Mapping[str, Any], given: Mapping[str, Any] | None
) -> dict[str, str]:
    """What a stack runs with: template defaults, overridden by the given values, as strings."""
    values = {
        name: slot["Default"]
        for name, slot in (template.get("Parameters") or {}).items()
        if isinstance(slot, Mapping) and "Default" in slot
    }
    values.update(given or {})
    return {name: _as_parameter_text(value) for name, value in values.items()}


def _as_parameter_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def substitute(value: Any, parameters: Mapping[str, str]) -> Any:
    """``value`` with every reference to a known parameter replaced by its value."""
    if isinstance(value, list):
        return [substitute(item, parameters) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and isinstance(value["Ref"], str) and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    if set(value) == {"Fn::Sub"}:
        return {"Fn::Sub": _substitute_sub(value["Fn::Sub"], parameters)}
    return {key: substitute(item, parameters) for key, item in value.items()}


def _substitute_sub(argument: Any, parameters: Mapping[str, str]) -> Any:
    if isinstance(argument, str):
        return _fill(argument, parameters)
    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
        variables = {key: substitute(item, parameters) for key, item in argument[1].items()}
        # A Sub variable shadows a parameter of the same name.
        shadowed = {k: v for k, v in parameters.items() if k not in variables}
        text = _fill(argument[0], shadowed) if isinstance(argument[0], str) else argument[0]
        return [text, variables]
    return substitute(argument, parameters)


def _fill(text: str, parameters: Mapping[str, str]) -> str:
    return _SUB_VARIABLE.sub(
        lambda match: parameters.get(match.group(1), match.group(0)),
        text,
    )


def referenced_parameters(value: Any, parameters: Collection[str]) -> set[str]:
    """Names of ``parameters`` that ``value`` refers to (Ref or ${Name} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= referenced_parameters(item, parameters)
    elif isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            found.add(value["Ref"])
        for key, item in value.items():
            if key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0] if isinstance(item, list) else ""
                if isinstance(text, str):
                    found |= {name for name in _SUB_VARIABLE.findall(text) if name in parameters}
            found |= referenced_parameters(item, parameters)
    return found


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def _walk(old: Any, new: Any, path: PropertyPath, out: list[tuple[PropertyPath, str]]) -> None:
    if old == new:
        return
    if (
        isinstance(old, dict)
        and isinstance(new, dict)
        and not _is_intrinsic(old)
        and not _is_intrinsic(new)
    ):
        for key in sorted(set(old) | set(new), key=str):
            if key not in old:
                out.append(((*path, key), "add"))
            elif key not in new:
                out.append(((*path, key), "remove"))
            else:
                _walk(old[key], new[key], (*path, key), out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (old_item, new_item) in enumerate(zip(old, new, strict=True)):
            _walk(old_item, new_item, (*path, index), out)
    else:
        # A list that grew or shrank changes as a whole: index paths would only mislead.
        out.append((path, "modify"))


def _get(document: Any, path: PropertyPath) -> Any:
    for segment in path:
        if isinstance(segment, int) and isinstance(document, list) and segment < len(document):
            document = document[segment]
        elif isinstance(segment, str) and isinstance(document, dict) and segment in document:
            document = document[segment]
        else:
            return _MISSING
    return document


_MISSING = object()


def diff_resource(
    old_raw: Mapping[str, Any],
    new_raw: Mapping[str, Any],
    old_parameters: Mapping[str, str],
    new_parameters: Mapping[str, str],
) -> tuple[PropertyChange, ...]:
    """Every changed path of one resource; Type counts as a path of its own."""
    old = substitute(dict(old_raw), old_parameters)
    new = substitute(dict(new_raw), new_parameters)
    raw_changes: list[tuple[PropertyPath, str]] = []
    _walk(old, new, (), raw_changes)
    changed_values = {
        name
        for name in set(old_parameters) | set(new_parameters)
        if old_parameters.get(name) != new_parameters.get(name)
    }
    changes = []
    for path, kind in raw_changes:
        before, after = _get(old_raw, path), _get(new_raw, path)
        causes: tuple[str, ...] = ()
        if before is not _MISSING and before == after:
            # The template is the same here: only parameter values moved.
            causes = tuple(sorted(referenced_parameters(after, changed_values)))
        changes.append(PropertyChange(path, kind, causes))
    return tuple(changes)


def diff_templates(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    old_parameters: Mapping[str, Any] | None = None,
    new_parameters: Mapping[str, Any] | None = None,
) -> TemplateDiff:
    """Deployed template (None: the stack does not exist) against the rendered one."""
    old = old or {}
    old_values = effective_parameters(old, old_parameters)
    new_values = effective_parameters(new, new_parameters)
    old_resources: Mapping[str, Any] = old.get("Resources") or {}
    new_resources: Mapping[str, Any] = new.get("Resources") or {}
    resources = []
    for logical_id in sorted(set(old_resources) | set(new_resources)):
        before, after = old_resources.get(logical_id), new_resources.get(logical_id)
        if before is None:
            resources.append(
                ResourceDiff(
                    logical_id,
                    after.get("Type", ""),
                    ADD,
                    new=substitute(dict(after), new_values),
                )
            )
        elif after is None:
            resources.append(
                ResourceDiff(
                    logical_id,
                    before.get("Type", ""),
                    REMOVE,
                    old=substitute(dict(before), old_values),
                )
            )
        else:
            changes = diff_resource(before, after, old_values, new_values)
            if changes:
                resources.append(
                    ResourceDiff(
                        logical_id,
                        after.get("Type", ""),
                        MODIFY,
                        changes,
                        old=substitute(dict(before), old_values),
                        new=substitute(dict(after), new_values),
                    )
                )
    return TemplateDiff(
        tuple(resources),
        _parameter_changes(old, new, old_values, new_values),
        _output_changes(old, new, old_values, new_values),
    )


def _parameter_changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_values: Mapping[str, str],
    new_values: Mapping[str, str],
) -> dict[str, tuple[str | None, str | None]]:
    if not old:
        return {}  # a new stack: every value is new, and the resources already say so
    hidden = {
        name
        for template in (old, new)
        for name, slot in (template.get("Parameters") or {}).items()
        if isinstance(slot, Mapping) and str(slot.get("NoEcho", "")).lower() == "true"
    }
    changes = {}
    for name in sorted(set(old_values) | set(new_values)):
        before, after = old_values.get(name), new_values.get(name)
        if before != after:
            changes[name] = ("****", "****") if name in hidden else (before, after)
    return changes


def _output_changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_values: Mapping[str, str],
    new_values: Mapping[str, str],
) -> dict[str, str]:
    if not old:
        return {}  # a new stack: every output is new
    before = {k: substitute(v, old_values) for k, v in (old.get("Outputs") or {}).items()}
    after = {k: substitute(v, new_values) for k, v in (new.get("Outputs") or {}).items()}
    changes = {}
    for key in sorted(set(before) | set(after)):
        if key not in before:
            changes[key] = ADD
        elif key not in after:
            changes[key] = REMOVE
        elif json.dumps(before[key], sort_keys=True) != json.dumps(after[key], sort_keys=True):
            changes[key] = MODIFY
    return changes
