"""Walking the IAM policy statements of a template, shared by the rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Where policy documents sit, by resource type: (property path, kind).
POLICY_PROPERTIES: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "AWS::IAM::Role": ((("AssumeRolePolicyDocument",), "trust"), (("Policies", "*"), "identity")),
    "AWS::IAM::Policy": ((("PolicyDocument",), "identity"),),
    "AWS::IAM::ManagedPolicy": ((("PolicyDocument",), "identity"),),
    "AWS::S3::BucketPolicy": ((("PolicyDocument",), "resource"),),
    "AWS::KMS::Key": ((("KeyPolicy",), "key"),),
    "AWS::SNS::TopicPolicy": ((("PolicyDocument",), "resource"),),
    "AWS::SQS::QueuePolicy": ((("PolicyDocument",), "resource"),),
}


@dataclass(frozen=True)
class PolicyStatement:
    logical_id: str
    kind: str  # identity, trust, resource or key
    path: tuple[str | int, ...]  # from the template root, for RuleMatch
    statement: dict[str, Any]

    @property
    def allows(self) -> bool:
        return self.statement.get("Effect") == "Allow"

    @property
    def actions(self) -> list[Any]:
        return as_list(self.statement.get("Action", []))

    @property
    def resources(self) -> list[Any]:
        return as_list(self.statement.get("Resource", []))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(template: dict[str, Any]) -> Iterator[PolicyStatement]:
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict):
            continue
        properties = resource.get("Properties") or {}
        for property_path, kind in POLICY_PROPERTIES.get(resource.get("Type"), ()):
            base = ("Resources", logical_id, "Properties")
            for path, document in _documents(properties, property_path, base):
                for index, statement in enumerate(as_list(document.get("Statement", []))):
                    if isinstance(statement, dict):
                        yield PolicyStatement(
                            logical_id, kind, (*path, "Statement", index), statement
                        )


def _documents(
    node: Any, property_path: tuple[str, ...], path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    if not property_path:
        if isinstance(node, dict):
            yield path, node
        return
    head, rest = property_path[0], property_path[1:]
    if head == "*":
        for index, item in enumerate(as_list(node)):
            if isinstance(item, dict):
                yield from _documents(
                    item.get("PolicyDocument"), rest, (*path, index, "PolicyDocument")
                )
        return
    if isinstance(node, dict) and head in node:
        yield from _documents(node[head], rest, (*path, head))


def text(value: Any) -> str:
    """The literal text of an ARN: a string, or the template of a Fn::Sub."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else str(sub[0])
    return ""


def api_gateway_logging_roles(template: dict[str, Any]) -> set[str]:
    """Roles an ``AWS::ApiGateway::Account`` names as the account's CloudWatch role."""
    roles = set()
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::ApiGateway::Account":
            arn = (resource.get("Properties") or {}).get("CloudWatchRoleArn")
            if isinstance(arn, dict) and isinstance(arn.get("Fn::GetAtt"), list):
                roles.add(str(arn["Fn::GetAtt"][0]))
    return roles
