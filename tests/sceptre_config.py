"""Reading Sceptre config files as written, without resolving their tags (that would need AWS)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import PROJECT


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
    """``config/<relative_path>`` with every ``!tag value`` read as the text "!tag value"."""
    return yaml.load((PROJECT / "config" / relative_path).read_text(), TaggedValues)


def configured_parameters(stack_name: str) -> dict[str, str]:
    return read_config(f"{stack_name}.yaml").get("parameters", {})


def stack_names(environment: str) -> list[str]:
    """The environment's stacks as its config folder has them (``config/dev/tables.yaml`` ->
    ``tables``), sorted."""
    folder = PROJECT / "config" / environment
    return sorted(path.stem for path in folder.glob("*.yaml") if path.stem != "config")
