"""The IAM diff: per policy holder, the (action, resource) pairs its policies allow, added
and removed.

A holder is a role, user or group (its inline policies, the separate policies attached to it,
its trust policy and managed policy ARNs), or a resource carrying a resource policy (a bucket
policy, a key, a queue policy, ... by its logical id). Policies are read through the shared
walker, tunnel_infra/iam_statements.py. ``AWS::Lambda::Permission`` is not a policy document:
its changes show in the resource diff.

Any added allow pair is *broadening* (as is a removed deny, a new trusted principal or a new
managed policy); removals are *narrowing*. A statement's Condition and principal are part of
its resource text, so dropping a condition or widening a principal shows up as a broader pair.
Parameter values are substituted first, so a policy that names a table through a parameter
changes when the table name does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from review.template_diff import effective_parameters, substitute
from tunnel_infra.iam_statements import (
    IDENTITY,
    IDENTITY_TYPES,
    TRUST,
    PolicyDocument,
    as_list,
    policy_documents,
    readable,
)

Permission = tuple[str, str]  # (action, resource)


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


def _statement_pairs(statement: Mapping[str, Any]) -> set[Permission]:
    effect = "deny " if statement.get("Effect") == "Deny" else ""
    if "NotAction" in statement:
        actions = [f"not {readable(a)}" for a in as_list(statement["NotAction"])]
    else:
        actions = [readable(a) for a in as_list(statement.get("Action", []))]
    if "NotResource" in statement:
        resources = [f"not {readable(r)}" for r in as_list(statement["NotResource"])]
    else:
        resources = [readable(r) for r in as_list(statement.get("Resource", []))]
    if "NotPrincipal" in statement:
        principal = f"not principal {readable(statement['NotPrincipal'])}"
    elif "Principal" in statement:
        principal = f"principal {readable(statement['Principal'])}"
    else:
        principal = None
    if principal and not resources:  # a trust policy: the principal is what is granted
        resources = [principal]
    elif principal:
        resources = [f"{r} for {principal}" for r in resources]
    if "Condition" in statement:
        resources = [f"{r} if {readable(statement['Condition'])}" for r in resources]
    return {(effect + action, resource) for action in actions for resource in resources}


def _document_pairs(document: PolicyDocument) -> set[Permission]:
    if not document.literal:
        return {("?", readable(document.document))}  # not a literal document: compare it whole
    pairs: set[Permission] = set()
    for found in document.statements():
        pairs |= _statement_pairs(found.statement)
    return pairs


def _holders(document: PolicyDocument) -> tuple[str, ...]:
    """Whose permissions a document sets: the identities it applies to, or its resource."""
    return document.attached_to if document.kind == IDENTITY else (document.logical_id,)


def role_permissions(
    template: Mapping[str, Any] | None, parameters: Mapping[str, Any] | None = None
) -> dict[str, set[Permission]]:
    """Holder -> every (action, resource) pair it is granted, trust included."""
    if not template:
        return {}
    values = effective_parameters(template, parameters)
    resources = substitute(dict(template.get("Resources") or {}), values)
    holders = _Roles()
    for logical_id, resource in resources.items():
        if isinstance(resource, Mapping) and resource.get("Type") in IDENTITY_TYPES:
            holders.pairs.setdefault(logical_id, set())
            properties = resource.get("Properties") or {}
            for arn in as_list(properties.get("ManagedPolicyArns", [])):
                holders.add(logical_id, ("managed policy", readable(arn)))
    for document in policy_documents({"Resources": resources}):
        prefix = "trust " if document.kind == TRUST else ""
        for holder in _holders(document):
            for action, resource in _document_pairs(document):
                holders.add(holder, (prefix + action, resource))
    return holders.pairs


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
