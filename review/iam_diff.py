"""The IAM diff: per role, the (action, resource) pairs its policies allow, added and removed.

Any added allow pair is *broadening* (as is a removed deny, a new trusted principal or a new
managed policy); removals are *narrowing*. A statement's Condition is part of its resource text,
so dropping a condition shows up as a broader pair. Parameter values are substituted first, so a
policy that names a table through a parameter changes when the table name does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from review.template_diff import effective_parameters, substitute

Permission = tuple[str, str]  # (action, resource)

_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy")


@dataclass(frozen=True)
class RoleDiff:
    added: tuple[Permission, ...] = ()
    removed: tuple[Permission, ...] = ()

    @property
    def broadening(self) -> bool:
        return any(not action.startswith("deny ") for action, _ in self.added) or any(
            action.startswith("deny ") for action, _ in self.removed
        )

    @property
    def broader(self) -> tuple[Permission, ...]:
        """What widens: new allows, dropped denies."""
        return tuple(p for p in self.added if not p[0].startswith("deny ")) + tuple(
            p for p in self.removed if p[0].startswith("deny ")
        )

    @property
    def narrower(self) -> tuple[Permission, ...]:
        return tuple(p for p in self.removed if not p[0].startswith("deny ")) + tuple(
            p for p in self.added if p[0].startswith("deny ")
        )


@dataclass
class _Roles:
    pairs: dict[str, set[Permission]] = field(default_factory=dict)

    def add(self, role: str, pair: Permission) -> None:
        self.pairs.setdefault(role, set()).add(pair)


def text(value: Any) -> str:
    """A readable, comparable form of a policy value (ARN, principal, condition)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            return "${" + str(argument) + "}"
        if key == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return "${" + ".".join(str(p) for p in parts) + "}"
        if key == "Fn::Sub":
            if isinstance(argument, str):
                return argument
            template, variables = argument[0], argument[1] if len(argument) > 1 else {}
            for name, item in (variables or {}).items():
                template = template.replace("${" + name + "}", text(item))
            return template
        if key == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            return str(argument[0]).join(text(item) for item in _as_list(argument[1]))
    return json.dumps(value, sort_keys=True)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _statement_pairs(statement: Mapping[str, Any]) -> set[Permission]:
    effect = "deny " if statement.get("Effect") == "Deny" else ""
    if "NotAction" in statement:
        actions = [f"not {text(a)}" for a in _as_list(statement["NotAction"])]
    else:
        actions = [text(a) for a in _as_list(statement.get("Action", []))]
    if "NotResource" in statement:
        resources = [f"not {text(r)}" for r in _as_list(statement["NotResource"])]
    elif "Principal" in statement:  # a trust policy: the principal is what is granted
        resources = [f"principal {text(statement['Principal'])}"]
    else:
        resources = [text(r) for r in _as_list(statement.get("Resource", []))]
    if "Condition" in statement:
        resources = [f"{r} if {text(statement['Condition'])}" for r in resources]
    return {(effect + action, resource) for action in actions for resource in resources}


def _document_pairs(document: Any) -> set[Permission]:
    if not isinstance(document, Mapping):
        return {("?", text(document))}  # not a literal document: compare it whole
    pairs: set[Permission] = set()
    for statement in _as_list(document.get("Statement", [])):
        if isinstance(statement, Mapping):
            pairs |= _statement_pairs(statement)
    return pairs


def role_permissions(
    template: Mapping[str, Any] | None, parameters: Mapping[str, Any] | None = None
) -> dict[str, set[Permission]]:
    """Role logical id -> every (action, resource) pair it is granted, trust included."""
    if not template:
        return {}
    values = effective_parameters(template, parameters)
    resources = substitute(dict(template.get("Resources") or {}), values)
    roles = _Roles()
    for logical_id, resource in resources.items():
        kind, properties = resource.get("Type"), resource.get("Properties") or {}
        if kind == "AWS::IAM::Role":
            roles.pairs.setdefault(logical_id, set())
            for policy in _as_list(properties.get("Policies", [])):
                if isinstance(policy, Mapping):
                    for pair in _document_pairs(policy.get("PolicyDocument")):
                        roles.add(logical_id, pair)
            trust = properties.get("AssumeRolePolicyDocument")
            for action, principal in _document_pairs(trust) if trust else ():
                roles.add(logical_id, (f"trust {action}", principal))
            for arn in _as_list(properties.get("ManagedPolicyArns", [])):
                roles.add(logical_id, ("managed policy", text(arn)))
        elif kind in _POLICY_TYPES:
            # A separate policy counts for each role it is attached to (by Ref).
            targets = _as_list(properties.get("Roles", [])) + _as_list(
                properties.get("RoleName", [])
            )
            pairs = _document_pairs(properties.get("PolicyDocument"))
            for target in targets:
                role = target["Ref"] if isinstance(target, Mapping) and "Ref" in target else None
                role = role or text(target)
                for pair in pairs:
                    roles.add(role, pair)
    return roles.pairs


def diff_roles(
    old: Mapping[str, set[Permission]], new: Mapping[str, set[Permission]]
) -> dict[str, RoleDiff]:
    """Role -> its added and removed pairs; roles without a change are left out."""
    diffs = {}
    for role in sorted(set(old) | set(new)):
        before, after = old.get(role, set()), new.get(role, set())
        if before != after:
            diffs[role] = RoleDiff(tuple(sorted(after - before)), tuple(sorted(before - after)))
    return diffs
