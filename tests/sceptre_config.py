"""Reading Sceptre config files as written, without resolving their tags (that would need AWS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import PROJECT
from tunnel_infra.config_errors import without_jinja


class TaggedValues(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.constructor.SafeConstructor,  # not yaml.SafeLoader, where Sceptre adds its tags
    yaml.resolver.Resolver,
):
    """Reads `!stack_output x` and friends as plain text: resolving them would need AWS."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


TaggedValues.add_multi_constructor("!", lambda loader, tag, node: f"!{tag} {node.value}")


def read_config(relative_path: str) -> dict[str, Any]:
    """``config/<relative_path>`` with every ``!tag value`` read as the text "!tag value", and
    every Jinja construct blanked (an expression reads "jinja")."""
    text = (PROJECT / "config" / relative_path).read_text()
    return yaml.load(without_jinja(text), TaggedValues)


def configured_parameters(stack_name: str) -> dict[str, str]:
    return read_config(f"{stack_name}.yaml").get("parameters", {})


def stack_names(environment: str, project: Path = PROJECT) -> list[str]:
    """The stacks ``sceptre launch <environment>`` launches (``config/dev/tables.yaml`` ->
    ``tables``), sorted: not an ``obsolete`` one, such as the domain stack of an environment
    without a custom domain. Read by Sceptre's own config reader (Jinja included)."""
    from sceptre.config.reader import ConfigReader
    from sceptre.context import SceptreContext

    context = SceptreContext(project_path=str(project), command_path=environment)
    _, stacks = ConfigReader(context).construct_stacks()
    return sorted(
        stack.name.removeprefix(f"{environment}/")
        for stack in stacks
        if not stack.ignore and not stack.obsolete
    )
