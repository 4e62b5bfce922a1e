"""Reading CloudFormation template text (YAML with short-form tags, or JSON) into long form.

The review compares templates as documents, never as text: ``!Ref X`` and ``{"Ref": "X"}`` are
the same thing. Standard library plus PyYAML only, so the emulator (its own virtualenv, without
cfn-flip) reads templates the same way.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

# libyaml's parser when PyYAML has it: templates of hundreds of lines parse 5x faster.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TemplateLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader with CloudFormation's short forms, and no YAML timestamps ("2012-10-17")."""


# CloudFormation keeps unquoted dates as strings; YAML 1.1 would make them datetime objects.
_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct(loader: Any, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


def _short_form(loader: Any, suffix: str, node: yaml.Node) -> Any:
    value = _construct(loader, node)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _short_form)


def parse_template(body: str | dict[str, Any]) -> dict[str, Any]:
    """A template document in long form; get_template may already hand back a dict (JSON)."""
    if isinstance(body, dict):
        return body
    text = body.strip()
    if text.startswith("{"):
        return json.loads(text)
    document = yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - a safe loader subclass
    return document if isinstance(document, dict) else {}
