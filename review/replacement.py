"""Predict which changes make CloudFormation replace a resource, before it says so.

Two sources:
- the CloudFormation registry schemas that cfn-lint ships (its pinned copy, read straight from
  its package data: ``providers/<region>.json`` maps a type to ``resources/<hash>.json``); a
  change under any of a type's ``createOnlyProperties`` means replacement;
- ``DOCUMENTED``: properties whose reference page says "Update requires: Replacement" (or that
  the update is refused) but that the schemas leave out of ``createOnlyProperties``. Checked for
  every stateful type these stacks use (cfn-lint 1.58.0 schemas against the CloudFormation
  template reference):
  - ``AWS::DynamoDB::Table``: schema has TableName, ImportSourceSpecification; the reference adds
    KeySchema and LocalSecondaryIndexes (Replacement), and AttributeDefinitions ("Replacement if
    you edit an existing AttributeDefinition"; adding one for a new index is not an edit).
  - ``AWS::KMS::Key``: schema has none; KeySpec, KeyUsage, Origin and MultiRegion are immutable:
    "the update request fails, regardless of the value of the UpdateReplacePolicy attribute".
  - ``AWS::S3::Bucket``: schema has BucketName (and its prefix/namespace); the reference adds
    ObjectLockEnabled (Replacement).
  - ``AWS::Logs::LogGroup``: schema has LogGroupName; LogGroupClass: "Updates are not supported".
  - ``AWS::SecretsManager::Secret``: schema has Name, which is all the reference lists.

Standard library only (the emulator imports it to give its change sets the same knowledge; on
AWS, CloudFormation's own verdict is used and merged with this one).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from review.template_diff import MODIFY, PropertyChange, PropertyPath, ResourceDiff

NEVER, CONDITIONALLY, ALWAYS = "Never", "Conditionally", "Always"
# ResourceChange.Replacement values, as describe_change_set spells them.
REPLACEMENT_TRUE, REPLACEMENT_FALSE, REPLACEMENT_CONDITIONAL = "True", "False", "Conditional"

STATEFUL_TYPES = frozenset(
    {
        "AWS::DynamoDB::Table",
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::Logs::LogGroup",
        "AWS::SecretsManager::Secret",
    }
)

_FAILS = "cannot change in place: CloudFormation fails the update"
DOCUMENTED: dict[str, dict[str, tuple[str, str]]] = {
    "AWS::DynamoDB::Table": {
        "KeySchema": (ALWAYS, "Update requires: Replacement"),
        "LocalSecondaryIndexes": (ALWAYS, "Update requires: Replacement"),
    },
    "AWS::KMS::Key": {
        "KeySpec": (ALWAYS, _FAILS),
        "KeyUsage": (ALWAYS, _FAILS),
        "Origin": (ALWAYS, _FAILS),
        "MultiRegion": (ALWAYS, _FAILS),
    },
    "AWS::S3::Bucket": {"ObjectLockEnabled": (ALWAYS, "Update requires: Replacement")},
    "AWS::Logs::LogGroup": {"LogGroupClass": (ALWAYS, "Updates are not supported")},
    "AWS::SecretsManager::Secret": {},
}
_SEVERITY = {NEVER: 0, CONDITIONALLY: 1, ALWAYS: 2}


@dataclass(frozen=True)
class Prediction:
    """What one changed path means for the resource: Never, Conditionally or Always."""

    recreation: str
    reason: str = ""


@dataclass(frozen=True)
class ResourcePrediction:
    replacement: str  # True, False or Conditional (as describe_change_set says it)
    reasons: tuple[str, ...] = ()


def _schemas_root() -> Path | None:
    spec = importlib.util.find_spec("cfnlint")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "schemas"


@cache
def _providers(region: str) -> dict[str, str]:
    root = _schemas_root()
    if root is None:
        return {}
    path = root / "providers" / f"{region}.json"
    if not path.exists():
        path = root / "providers" / "us-east-1.json"
    return json.loads(path.read_text())


@cache
def create_only_properties(resource_type: str, region: str = "us-east-1") -> tuple[PropertyPath]:
    """The type's ``createOnlyProperties`` as paths below Properties (``*`` = any list index)."""
    schema_hash = _providers(region).get(resource_type)
    root = _schemas_root()
    if schema_hash is None or root is None:
        return ()  # type: ignore[return-value]
    schema = json.loads((root / "resources" / f"{schema_hash}.json").read_text())
    paths = []
    for pointer in schema.get("createOnlyProperties", []):
        parts = pointer.split("/")[2:]  # "/properties/A/B" -> ["A", "B"]
        paths.append(tuple(parts))
    return tuple(paths)  # type: ignore[return-value]


def _matches(pattern: tuple[str, ...], path: PropertyPath) -> bool:
    return all(
        part == "*" or part == str(segment) for part, segment in zip(pattern, path, strict=False)
    )


def _edited_attribute_definitions(old: Any, new: Any) -> list[str]:
    """Attribute names whose type changed, or that were dropped while still defined."""

    def as_map(value: Any) -> dict[str, Any]:
        if not isinstance(value, list):
            return {}
        return {
            item.get("AttributeName"): item.get("AttributeType")
            for item in value
            if isinstance(item, Mapping)
        }

    before, after = as_map(old), as_map(new)
    return sorted(name for name in before if name in after and before[name] != after[name])


def predict_change(
    resource_type: str,
    change: PropertyChange,
    old_properties: Mapping[str, Any] | None = None,
    new_properties: Mapping[str, Any] | None = None,
    region: str = "us-east-1",
) -> Prediction:
    """Replacement verdict for one changed path of a modified resource."""
    if change.attribute == "Type":
        return Prediction(ALWAYS, "the resource type changed")
    path = change.property_path
    if not path:
        return Prediction(NEVER)  # Metadata, DeletionPolicy, ...: no resource update at all
    for pattern in create_only_properties(resource_type, region):
        if len(path) >= len(pattern) and _matches(pattern, path):
            return Prediction(ALWAYS, f"{'.'.join(pattern)} is create-only (registry schema)")
        if len(path) < len(pattern) and _matches(pattern, path):
            return Prediction(
                CONDITIONALLY, f"may change create-only {'.'.join(pattern)} (registry schema)"
            )
    name = str(path[0])
    documented = DOCUMENTED.get(resource_type, {}).get(name)
    if documented is not None:
        recreation, why = documented
        return Prediction(recreation, f"{name}: {why} (CloudFormation reference)")
    if resource_type == "AWS::DynamoDB::Table" and name == "AttributeDefinitions":
        edited = _edited_attribute_definitions(
            (old_properties or {}).get(name), (new_properties or {}).get(name)
        )
        if edited:
            return Prediction(
                ALWAYS,
                f"AttributeDefinitions: editing existing {', '.join(edited)} requires Replacement"
                " (CloudFormation reference)",
            )
    return Prediction(NEVER)


def predict_resource(diff: ResourceDiff, region: str = "us-east-1") -> ResourcePrediction | None:
    """The resource's Replacement verdict; None for Add and Remove (no replacement there)."""
    if diff.action != MODIFY:
        return None
    old_properties = (diff.old or {}).get("Properties") or {}
    new_properties = (diff.new or {}).get("Properties") or {}
    worst, reasons = NEVER, []
    for change in diff.changes:
        prediction = predict_change(
            diff.resource_type, change, old_properties, new_properties, region
        )
        if prediction.recreation != NEVER:
            reasons.append(prediction.reason)
        if _SEVERITY[prediction.recreation] > _SEVERITY[worst]:
            worst = prediction.recreation
    replacement = {
        NEVER: REPLACEMENT_FALSE,
        CONDITIONALLY: REPLACEMENT_CONDITIONAL,
        ALWAYS: REPLACEMENT_TRUE,
    }[worst]
    return ResourcePrediction(replacement, tuple(dict.fromkeys(reasons)))


def is_stateful(resource_type: str) -> bool:
    return resource_type in STATEFUL_TYPES
