"""Where a config mistake is: the file and line of a setting, and one line per mistake.

Every stack of an environment inherits ``sceptre_user_data`` from ``config/<env>/config.yaml``,
so a bad setting is reported where it is set, not at the stack that happened to render first
(``config/dev/config.yaml:7: sceptre_user_data.memroy_mb is not a known setting; ...``).

The locator follows Sceptre's config reader (``sceptre.config.reader``). A stack ``dev/tables``
reads, most specific first, ``config/dev/tables.yaml``, ``config/tables.yaml``, then the group
configs ``config/dev/config.yaml`` and ``config/config.yaml``. ``sceptre_user_data`` is merged
with the strategy ``sceptre_user_data_inheritance`` names (the most specific file that sets it):
``override`` (the default), where the most specific non-empty mapping is taken whole, or
``merge``, where each top-level key comes from the most specific file that has it. Config files
are Jinja templates; the locator reads them as written with each Jinja construct blanked out and
its newlines kept, so line numbers are the file's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sceptre.exceptions import InvalidConfigFileError

from tunnel_infra.settings import Settings, SettingsError, parse_settings

CONFIG_FOLDER = "config"  # Sceptre's default config_path, which this project uses
GROUP_CONFIG = "config.yaml"
USER_DATA = "sceptre_user_data"
INHERITANCE = "sceptre_user_data_inheritance"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
NULL_TAG = "tag:yaml.org,2002:null"


class ConfigSettingsError(InvalidConfigFileError):
    """A bad setting, as one line naming the file and line that set it.

    A ``SceptreException``: Sceptre's CLI prints it without a traceback (``catch_exceptions``).
    """


@dataclass(frozen=True)
class Location:
    path: str  # relative to the project: config/dev/config.yaml
    line: int | None = None  # 1-based

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


def without_jinja(text: str) -> str:
    """``text`` with every Jinja construct replaced: an expression by a placeholder, a statement
    or comment by nothing, each keeping its newlines, so a line is still the file's line."""

    def blank(match: re.Match[str]) -> str:
        newlines = "\n" * match.group().count("\n")
        return ("jinja" if match.group().startswith("{{") else "") + newlines

    return JINJA.sub(blank, text)


def has_jinja(text: str) -> bool:
    return JINJA.search(text) is not None


def compose(path: Path) -> yaml.Node | None:
    """The YAML node tree of a config file, with line marks; None if it is missing, empty or
    does not parse (the check command reports that; the locator looks elsewhere)."""
    try:
        return yaml.compose(without_jinja(path.read_text()), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def config_chain(project_path: Path, stack_name: str) -> list[Path]:
    """The files Sceptre reads for ``stack_name`` (``dev/tables``), most specific first."""
    *folders, stack = stack_name.split("/")
    levels = [Path(*folders[:depth]) for depth in range(len(folders), -1, -1)]
    root = project_path / CONFIG_FOLDER
    return [root / level / f"{stack}.yaml" for level in levels] + [
        root / level / GROUP_CONFIG for level in levels
    ]


def locate_setting(project_path: Path | str, stack_name: str, key: str) -> Location:
    """The file and line that set ``sceptre_user_data.<key>`` (dotted; "" for the whole) for a
    stack; for a key that is not set, its nearest parent that is."""
    project_path = Path(project_path)
    chain = [(path, compose(path)) for path in config_chain(project_path, stack_name)]
    owners = [(path, _entry(root, USER_DATA)) for path, root in chain]
    owners = [(path, entry) for path, entry in owners if entry is not None]
    top = key.split(".")[0]
    owner = None
    if _inheritance(chain) == "merge" and top:
        owner = next(
            ((path, entry) for path, entry in owners if _entry(entry[1], top) is not None), None
        )
    if owner is None:
        owner = next(((path, entry) for path, entry in owners if not _empty(entry[1])), None)
    if owner is None:
        # Set nowhere: where it belongs is the environment's config.yaml.
        groups = [path for path, _ in chain if path.name == GROUP_CONFIG and path.is_file()]
        return Location(_relative(groups[0] if groups else chain[0][0], project_path))
    path, (key_node, node) = owner
    line = key_node.start_mark.line
    for part in filter(None, key.split(".")):
        entry = _entry(node, part)
        if entry is None:
            break
        key_node, node = entry
        line = key_node.start_mark.line
    return Location(_relative(path, project_path), line + 1)


def settings_error_line(project_path: Path | str, stack_name: str, error: SettingsError) -> str:
    """``config/dev/config.yaml:7: sceptre_user_data.memroy_mb is not a known setting; ...``"""
    try:
        location: Location | str = locate_setting(project_path, stack_name, error.key)
    except Exception:  # a locator bug must not hide the mistake itself
        location = f"{CONFIG_FOLDER}/{stack_name}.yaml"
    key = ".".join(filter(None, (USER_DATA, error.key)))
    return f"{location}: {key} {error.problem}"


def stack_settings(stack: Any) -> Settings:
    """A Sceptre stack's settings, or ConfigSettingsError naming where the bad value is set
    (for hooks, which run before any template on ``sceptre launch``)."""
    try:
        return parse_settings(stack.sceptre_user_data or {})
    except SettingsError as error:
        project = stack.stack_group_config.get("project_path", ".")
        raise ConfigSettingsError(settings_error_line(project, stack.name, error)) from None


def _entry(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key node, value node) of ``key`` in a mapping node; the last one, as PyYAML keeps."""
    if not isinstance(node, yaml.MappingNode):
        return None
    found = None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found = (key_node, value_node)
    return found


def _empty(node: yaml.Node) -> bool:
    """What Sceptre's merge treats as not set (``if value:``): null, "", {} or []."""
    if isinstance(node, yaml.ScalarNode):
        return node.tag == NULL_TAG or node.value == ""
    return not node.value


def _inheritance(chain: list[tuple[Path, yaml.Node | None]]) -> str:
    for _, root in chain:
        entry = _entry(root, INHERITANCE)
        if entry is not None and isinstance(entry[1], yaml.ScalarNode) and entry[1].value:
            return entry[1].value
    return "override"


def _relative(path: Path, project_path: Path) -> str:
    try:
        return path.relative_to(project_path).as_posix()
    except ValueError:
        return path.as_posix()
