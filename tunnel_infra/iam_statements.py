"""Every IAM policy statement of a CloudFormation template: the one walker that the project's
cfn-lint rules (cfn_lint_rules/), the review's IAM diff (review/iam_diff.py) and the tests use.

It knows where each resource type carries a policy document (``POLICY_PLACES``), whom a
detached identity policy applies to (``attached_to``), and reads each statement with its ``Not*``
forms. A document may be a JSON string (CloudFormation accepts both); ``Fn::If`` alternatives
are each walked, ``Ref AWS::NoValue`` is skipped.

``AWS::Lambda::Permission`` is not here: it is one AddPermission call (one action, one
principal, ``SourceArn``/``SourceAccount``), not a policy document, so its properties are read
where they matter (``LAMBDA_PERMISSION``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]

IDENTITY = "identity"  # what a role, user or group may do
TRUST = "trust"  # who may assume a role
RESOURCE = "resource"  # who may use a resource (bucket, queue, topic, secret, ...)
# The policy of one resource, whose Resource "*" means that resource: a KMS key policy, a
# secret's resource policy, an ECR repository policy (which has no Resource at all).
SELF = "self"

# Where policy documents sit, by resource type: (property path, kind). "*" walks each item of
# a list (a role's Policies) and the document is that item's next key.
POLICY_PLACES: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "AWS::IAM::Role": (
        (("AssumeRolePolicyDocument",), TRUST),
        (("Policies", "*", "PolicyDocument"), IDENTITY),
    ),
    "AWS::IAM::User": ((("Policies", "*", "PolicyDocument"), IDENTITY),),
    "AWS::IAM::Group": ((("Policies", "*", "PolicyDocument"), IDENTITY),),
    "AWS::IAM::Policy": ((("PolicyDocument",), IDENTITY),),
    "AWS::IAM::ManagedPolicy": ((("PolicyDocument",), IDENTITY),),
    "AWS::IAM::RolePolicy": ((("PolicyDocument",), IDENTITY),),
    "AWS::IAM::UserPolicy": ((("PolicyDocument",), IDENTITY),),
    "AWS::IAM::GroupPolicy": ((("PolicyDocument",), IDENTITY),),
    "AWS::KMS::Key": ((("KeyPolicy",), SELF),),
    "AWS::KMS::ReplicaKey": ((("KeyPolicy",), SELF),),
    "AWS::S3::BucketPolicy": ((("PolicyDocument",), RESOURCE),),
    "AWS::SQS::QueuePolicy": ((("PolicyDocument",), RESOURCE),),
    "AWS::SQS::QueueInlinePolicy": ((("PolicyDocument",), RESOURCE),),
    "AWS::SNS::TopicPolicy": ((("PolicyDocument",), RESOURCE),),
    "AWS::SNS::TopicInlinePolicy": ((("PolicyDocument",), RESOURCE),),
    "AWS::SecretsManager::ResourcePolicy": ((("ResourcePolicy",), SELF),),
    "AWS::Lambda::ResourcePolicy": ((("PolicyDocument",), RESOURCE),),
    "AWS::Logs::ResourcePolicy": ((("PolicyDocument",), RESOURCE),),
    "AWS::ECR::Repository": ((("RepositoryPolicyText",), SELF),),
    "AWS::ApiGateway::RestApi": ((("Policy",), RESOURCE),),
}

# Identity policies that stand apart: the properties naming the roles, users or groups they
# apply to (a Ref to one of this template's, or a name).
ATTACHMENTS: dict[str, tuple[str, ...]] = {
    "AWS::IAM::Policy": ("Roles", "Users", "Groups"),
    "AWS::IAM::ManagedPolicy": ("Roles", "Users", "Groups"),
    "AWS::IAM::RolePolicy": ("RoleName",),
    "AWS::IAM::UserPolicy": ("UserName",),
    "AWS::IAM::GroupPolicy": ("GroupName",),
}

# The identities: their inline Policies are their own, and they may attach ManagedPolicyArns.
IDENTITY_TYPES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")

LAMBDA_PERMISSION = "AWS::Lambda::Permission"


@dataclass(frozen=True)
class PolicyDocument:
    logical_id: str
    resource_type: str
    kind: str  # IDENTITY, TRUST, RESOURCE or SELF
    path: Path  # from the template root, for RuleMatch
    document: Any  # a mapping when literal; else the intrinsic or text as written
    attached_to: tuple[str, ...]  # the identities an IDENTITY document applies to
    from_text: bool = False  # written as JSON text: its statements have no path of their own

    @property
    def literal(self) -> bool:
        """Written out here, not an intrinsic (Fn::ImportValue, Ref, ...) to be resolved."""
        return isinstance(self.document, Mapping) and not _intrinsic(self.document)

    def statements(self) -> Iterator[PolicyStatement]:
        if not self.literal:
            return
        for path, statements in _alternatives(self.document.get("Statement", []), ()):
            listed = isinstance(statements, list)
            for index, item in enumerate(as_list(statements)):
                item_base = (*path, index) if listed else path
                for item_path, statement in _alternatives(item, item_base):
                    if isinstance(statement, Mapping):
                        where = (*self.path, "Statement", *item_path)
                        yield PolicyStatement(
                            self, self.path if self.from_text else where, statement
                        )


@dataclass(frozen=True)
class PolicyStatement:
    document: PolicyDocument
    path: Path  # from the template root, for RuleMatch
    statement: Mapping[str, Any]

    @property
    def logical_id(self) -> str:
        return self.document.logical_id

    @property
    def kind(self) -> str:
        return self.document.kind

    @property
    def resource_type(self) -> str:
        return self.document.resource_type

    @property
    def attached_to(self) -> tuple[str, ...]:
        return self.document.attached_to

    @property
    def allows(self) -> bool:
        return self.statement.get("Effect") == "Allow"

    @property
    def actions(self) -> list[Any]:
        return _listed(self.statement, "Action")

    @property
    def not_actions(self) -> list[Any]:
        return _listed(self.statement, "NotAction")

    @property
    def resources(self) -> list[Any]:
        return _listed(self.statement, "Resource")

    @property
    def not_resources(self) -> list[Any]:
        return _listed(self.statement, "NotResource")

    @property
    def principal(self) -> Any:
        return self.statement.get("Principal")

    @property
    def not_principal(self) -> Any:
        return self.statement.get("NotPrincipal")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _intrinsic(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref"))


def _listed(statement: Mapping[str, Any], key: str) -> list[Any]:
    return as_list(statement[key]) if key in statement else []


def _alternatives(node: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    """Each value ``node`` can take: both branches of an Fn::If, nothing for AWS::NoValue."""
    if isinstance(node, Mapping) and set(node) == {"Fn::If"}:
        branches = node["Fn::If"]
        if isinstance(branches, list) and len(branches) == 3:
            for index in (1, 2):
                yield from _alternatives(branches[index], (*path, "Fn::If", index))
            return
    if isinstance(node, Mapping) and node.get("Ref") == "AWS::NoValue":
        return
    yield path, node


def policy_documents(template: Mapping[str, Any]) -> Iterator[PolicyDocument]:
    """Every policy document of every resource type that carries one."""
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, Mapping):
            continue
        resource_type = resource.get("Type")
        properties = resource.get("Properties") or {}
        if not isinstance(properties, Mapping):
            continue
        own = (logical_id,) if resource_type in IDENTITY_TYPES else ()
        attached = own or _targets(properties, ATTACHMENTS.get(resource_type, ()))
        for property_path, kind in POLICY_PLACES.get(resource_type, ()):
            base = ("Resources", logical_id, "Properties")
            for path, document in _documents(properties, property_path, base):
                parsed = _parsed(document)
                yield PolicyDocument(
                    logical_id,
                    resource_type,
                    kind,
                    path,
                    document if parsed is None else parsed,
                    attached if kind == IDENTITY else (),
                    parsed is not None,
                )


def policy_statements(template: Mapping[str, Any]) -> Iterator[PolicyStatement]:
    """Every statement of every literal policy document (see ``policy_documents``)."""
    for document in policy_documents(template):
        yield from document.statements()


def _documents(node: Any, property_path: tuple[str, ...], path: Path) -> Iterator[tuple[Path, Any]]:
    for where, value in _alternatives(node, path):
        if not property_path:
            yield where, value
            continue
        head, rest = property_path[0], property_path[1:]
        if head == "*":
            for index, item in enumerate(as_list(value)):
                yield from _documents(item, rest, (*where, index))
        elif isinstance(value, Mapping) and head in value:
            yield from _documents(value[head], rest, (*where, head))


def _parsed(document: Any) -> Mapping[str, Any] | None:
    """A document written as JSON text, read (None if it is not one)."""
    if not isinstance(document, str):
        return None
    try:
        parsed = json.loads(document)
    except ValueError:
        return None
    return parsed if isinstance(parsed, Mapping) else None


def _targets(properties: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str, ...]:
    targets = []
    for key in keys:
        for target in as_list(properties.get(key, [])):
            if isinstance(target, Mapping) and isinstance(target.get("Ref"), str):
                targets.append(target["Ref"])
            else:
                targets.append(readable(target))
    return tuple(targets)


def literal_text(value: Any) -> str:
    """The literal text of an ARN: a string, or the template of a Fn::Sub ("" otherwise)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else str(sub[0])
    return ""


def readable(value: Any) -> str:
    """A readable, comparable form of a policy value (ARN, principal, condition)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
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
                template = template.replace("${" + name + "}", readable(item))
            return template
        if key == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            return str(argument[0]).join(readable(item) for item in as_list(argument[1]))
    return json.dumps(value, sort_keys=True)


def api_gateway_logging_roles(template: Mapping[str, Any]) -> set[str]:
    """Roles an ``AWS::ApiGateway::Account`` names as the account's CloudWatch role."""
    roles = set()
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, Mapping) and resource.get("Type") == "AWS::ApiGateway::Account":
            arn = (resource.get("Properties") or {}).get("CloudWatchRoleArn")
            if isinstance(arn, Mapping) and isinstance(arn.get("Fn::GetAtt"), list):
                roles.add(str(arn["Fn::GetAtt"][0]))
    return roles
