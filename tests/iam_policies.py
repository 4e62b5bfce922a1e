"""Reading IAM out of rendered templates, for the tests, through the shared walker
(tunnel_infra/iam_statements.py)."""

from __future__ import annotations

from typing import Any

from tunnel_infra.iam_statements import IDENTITY, policy_statements


def resource_text(resource: Any) -> str:
    """A readable, comparable form of a policy Resource entry."""
    if isinstance(resource, str):
        return resource
    if "Fn::Sub" in resource:
        value = resource["Fn::Sub"]
        return value if isinstance(value, str) else value[0]
    if "Fn::GetAtt" in resource:
        return "GetAtt " + ".".join(resource["Fn::GetAtt"])
    if "Ref" in resource:
        return "Ref " + resource["Ref"]
    raise AssertionError(f"unexpected resource form: {resource}")


def role_permissions(template: dict) -> dict[str, set[tuple[str, str]]]:
    """Role logical id → every (action, resource) pair its identity policies allow.

    Every role is listed, with or without policies; a separate policy (AWS::IAM::Policy,
    RolePolicy, ...) counts for the role it names, and one for a user or group is listed under
    that user or group, so no identity policy in a template goes unseen.
    """
    roles: dict[str, set[tuple[str, str]]] = {
        logical_id: set()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
    }
    for found in policy_statements(template):
        if found.kind != IDENTITY:
            continue
        # The project's roles only allow, and name exactly what they allow.
        assert found.allows, found.statement
        assert not {"NotAction", "NotResource"} & set(found.statement), found.statement
        for holder in found.attached_to:
            pairs = roles.setdefault(holder, set())
            for action in found.actions:
                for target in found.resources:
                    pairs.add((action, resource_text(target)))
    return roles
