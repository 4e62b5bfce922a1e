"""The shared IAM walker finds the statements of every policy-carrying resource type, and each
statement's path leads to it in the template (cfn-lint reports at that path)."""

from __future__ import annotations

import json

import pytest

from tunnel_infra.iam_statements import POLICY_PLACES, policy_documents, policy_statements

STATEMENT = {"Effect": "Allow", "NotAction": ["iam:*"], "NotResource": ["x"], "NotPrincipal": "*"}


def placed(property_path: tuple[str, ...]) -> object:
    """A property value holding one policy document at ``property_path``."""
    value: object = {"Statement": [dict(STATEMENT)]}
    for key in reversed(property_path):
        value = [value] if key == "*" else {key: value}
    return value


def at(template: dict, path: tuple) -> object:
    node: object = template
    for key in path:
        node = node[key]  # type: ignore[index]
    return node


@pytest.mark.parametrize(
    ("resource_type", "property_path", "kind"),
    [(t, path, kind) for t, places in POLICY_PLACES.items() for path, kind in places],
)
def test_every_place_is_walked_and_its_path_leads_to_the_statement(
    resource_type, property_path, kind
):
    properties = placed(property_path)
    template = {"Resources": {"Holder": {"Type": resource_type, "Properties": properties}}}
    (found,) = [s for s in policy_statements(template) if s.kind == kind]
    assert at(template, found.path) == STATEMENT
    assert (found.not_actions, found.not_resources, found.not_principal) == (["iam:*"], ["x"], "*")
    assert found.actions == found.resources == []


def test_a_document_written_as_text_is_read_and_points_at_its_property():
    template = {
        "Resources": {
            "Access": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": ["named-role"],
                    "PolicyDocument": json.dumps({"Statement": STATEMENT}),
                },
            }
        }
    }
    (found,) = policy_statements(template)
    assert found.statement == STATEMENT
    assert found.path == ("Resources", "Access", "Properties", "PolicyDocument")
    assert found.attached_to == ("named-role",)


def test_a_document_that_is_not_literal_is_reported_whole():
    imported = {"Fn::ImportValue": "shared-policy"}
    template = {
        "Resources": {
            "Access": {
                "Type": "AWS::IAM::RolePolicy",
                "Properties": {"RoleName": {"Ref": "Role"}, "PolicyDocument": imported},
            }
        }
    }
    (document,) = policy_documents(template)
    assert (document.literal, document.document, document.attached_to) == (
        False,
        imported,
        ("Role",),
    )
    assert list(policy_statements(template)) == []
