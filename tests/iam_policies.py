"""Reading IAM out of rendered templates, for the tests."""

from __future__ import annotations

from typing import Any


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


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def statements(document: dict) -> list[dict]:
    return as_list(document["Statement"])


def role_permissions(template: dict) -> dict[str, set[tuple[str, str]]]:
    """Role logical id → every (action, resource) pair its policies allow."""
    roles: dict[str, set[tuple[str, str]]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        pairs = roles.setdefault(logical_id, set())
        for policy in resource["Properties"].get("Policies", []):
            for statement in statements(policy["PolicyDocument"]):
                assert statement["Effect"] == "Allow"
                for action in as_list(statement["Action"]):
                    for target in as_list(statement["Resource"]):
                        pairs.add((action, resource_text(target)))
    return roles


def policy_documents(template: dict) -> list[tuple[str, str, dict]]:
    """(logical id, property, document) for every policy document in the template."""
    found = []
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("AssumeRolePolicyDocument", "PolicyDocument", "KeyPolicy"):
            if key in properties:
                found.append((logical_id, key, properties[key]))
        for policy in properties.get("Policies", []):
            found.append((logical_id, "Policies", policy["PolicyDocument"]))
    return found
