"""Check the Sceptre config before Sceptre runs: ``python -m tunnel_infra.config_check [ENV ...]``.

One line per mistake on stderr and exit 1; silent and exit 0 when every file parses and every
stack's settings are valid. No environment checks every one (what ``make render`` renders).

1. Every config file of the environment (``config/config.yaml`` and ``config/<env>/``) is
   parsed: a syntax error is ``config/dev/config.yaml:12:3: could not parse YAML: <problem>``,
   every such file at once. (Raw ``sceptre`` prints its own traceback for these: its reader
   parses the files before any plugin runs.)
2. Sceptre's own config reader reads the environment as ``sceptre launch`` would (Jinja,
   inheritance, tags, dependencies); what it refuses is one line.
3. Every stack of a group that has settings (``sceptre_user_data``) is validated by
   ``tunnel_infra.settings``; a bad value is reported at the file and line that set it
   (``config/dev/config.yaml:7: sceptre_user_data.memroy_mb is not a known setting; ...``),
   once however many stacks inherit it.

Nothing here talks to AWS. User data that only a resolver can produce (``!stack_output``) is
left to the template handler, which reports a bad value in the same line.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tunnel_infra.config_errors import (
    CONFIG_FOLDER,
    GROUP_CONFIG,
    has_jinja,
    settings_error_line,
)
from tunnel_infra.settings import SettingsError, parse_settings

PARSE_ERROR = re.compile(r"^Error parsing (?P<path>.*?):\n")
JINJA_ERROR = re.compile(r"^(?P<path>\S+\.yaml) - (?P<problem>.*)$", re.DOTALL)


def check(project_path: Path, environments: Iterable[str] = ()) -> list[str]:
    """Every problem of the environments ("": all), one line each, in file order."""
    project_path = Path(project_path).resolve()
    config = project_path / CONFIG_FOLDER
    if not config.is_dir():
        return [f"{CONFIG_FOLDER}: no Sceptre config folder in {project_path}"]
    environments = [environment.strip("/") for environment in environments] or [""]
    known = sorted(path.name for path in config.iterdir() if path.is_dir())
    unknown = [env for env in environments if env and not (config / env).is_dir()]
    if unknown:
        return [
            f"{CONFIG_FOLDER}/{env}: no such environment; known: {', '.join(known)}"
            for env in unknown
        ]
    problems: list[str] = []
    for environment in environments:
        problems += check_environment(project_path, environment)
    return list(dict.fromkeys(problems))


def check_environment(project_path: Path, environment: str) -> list[str]:
    problems = [
        line
        for path in config_files(project_path, environment)
        if (line := syntax_error(path, project_path)) is not None
    ]
    if problems:
        return problems  # Sceptre's reader would stop at the first of them, in a traceback
    try:
        stacks = read_stacks(project_path, environment)
    except Exception as error:  # whatever the reader refuses, as one line
        return [reader_error_line(error, project_path, environment)]
    return settings_problems(project_path, stacks)


def config_files(project_path: Path, environment: str) -> list[Path]:
    """The group configs above the environment, then every file in it."""
    config = project_path / CONFIG_FOLDER
    parts = Path(environment).parts
    parents = [config.joinpath(*parts[:depth], GROUP_CONFIG) for depth in range(len(parts))]
    inside = sorted((config / environment).rglob("*.yaml"))
    return [path for path in parents if path.is_file()] + inside


def syntax_error(path: Path, project_path: Path) -> str | None:
    """``file:line:column: could not parse YAML: <problem>``, or None. A file with Jinja is left
    to Sceptre's reader, which renders it first."""
    text = path.read_text()
    if has_jinja(text):
        return None
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        return yaml_error_line(_relative(path, project_path), error)
    return None


def yaml_error_line(path: str, error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        if mark is not None:
            return f"{path}:{mark.line + 1}:{mark.column + 1}: could not parse YAML: {problem}"
        return f"{path}: could not parse YAML: {problem}"
    return f"{path}: could not parse YAML: {_one_line(str(error))}"


def read_stacks(project_path: Path, environment: str) -> list[Any]:
    """The environment's stacks as Sceptre's reader builds them (Sceptre's import costs ~0.2 s:
    only here)."""
    from sceptre.config.reader import ConfigReader
    from sceptre.context import SceptreContext

    context = SceptreContext(project_path=str(project_path), command_path=environment)
    _, command_stacks = ConfigReader(context).construct_stacks()
    return sorted(command_stacks, key=lambda stack: stack.name)


def reader_error_line(error: Exception, project_path: Path, environment: str) -> str:
    """One line for what Sceptre's reader raised: a YAML error at its file, line and column
    (the reader's own message names a wrong path, ``config/devconfig.yaml``), a Jinja error at
    its file, anything else at the environment."""
    cause = error.__cause__ or error.__context__
    match = PARSE_ERROR.match(str(error))
    if isinstance(error, ValueError) and match and isinstance(cause, yaml.YAMLError):
        return yaml_error_line(_parsed_path(match["path"], project_path), cause)
    message = _one_line(str(error)) or type(error).__name__
    jinja = JINJA_ERROR.match(message)
    if jinja:
        return f"{CONFIG_FOLDER}/{jinja['path']}: {jinja['problem']}"
    return f"{CONFIG_FOLDER}/{environment}".rstrip("/") + f": {message}"


def settings_problems(project_path: Path, stacks: list[Any]) -> list[str]:
    """One line per bad setting, at the file and line that set it, once for all the stacks
    that inherit it. A group whose stacks have no user data at all (the account's) has no
    settings to check; in a group that has them, every stack must have valid ones."""
    user_data = {stack.name: _user_data(stack) for stack in stacks}
    groups_with_settings = {_group(name) for name, data in user_data.items() if data}
    problems = []
    for stack in stacks:
        data = user_data[stack.name]
        if data is None or _group(stack.name) not in groups_with_settings:
            continue
        try:
            parse_settings(data)
        except SettingsError as error:
            problems.append(settings_error_line(project_path, stack.name, error))
    return problems


def _user_data(stack: Any) -> object:
    """The stack's resolved user data; None where resolving needs more than config (AWS)."""
    try:
        return stack.sceptre_user_data
    except Exception:
        return None


def _group(stack_name: str) -> str:
    return stack_name.rpartition("/")[0]


def _parsed_path(reported: str, project_path: Path) -> str:
    """The config file behind Sceptre's "Error parsing" path, which joins the folder and the
    file name without a separator (``.../config/dev`` + ``config.yaml``)."""
    config = project_path / CONFIG_FOLDER
    for path in sorted(config.rglob("*.yaml")):
        inside = path.parent.relative_to(config).as_posix()
        folder = os.path.join(str(config), "" if inside == "." else inside)
        if folder + path.name == reported:
            return _relative(path, project_path)
    return reported


def _relative(path: Path, project_path: Path) -> str:
    try:
        return path.relative_to(project_path).as_posix()
    except ValueError:
        return path.as_posix()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "environments", nargs="*", metavar="ENV", help="config/<ENV> to check; none: every one"
    )
    parser.add_argument(
        "--project-path", type=Path, default=Path("."), help="the Sceptre project (default: .)"
    )
    args = parser.parse_args(argv)
    problems = check(args.project_path, args.environments)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
