"""One line per config mistake: a YAML syntax error, a misspelt setting and a bad value each end
in one line that names the file and line where it is, never a traceback.

The check command (``python -m tunnel_infra.config_check``) runs before Sceptre in the Makefile's
targets; raw ``sceptre`` reports a setting in one line too (the template handler and the hooks).
A YAML syntax error under raw ``sceptre`` stays Sceptre's own traceback: its reader parses the
files before any plugin runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from sceptre.exceptions import SceptreException

from hooks.package_functions import PackageFunctions
from hooks.preflight import Preflight
from tests.project_copy import copy_project
from tests.sceptre_config import read_config
from tunnel_infra.config_errors import locate_setting

PYTHON = sys.executable
SCEPTRE = str(Path(sys.executable).parent / "sceptre")
OFFLINE = {"PATH": "/usr/bin:/bin"}  # no credentials, no endpoints


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


def edit(project: Path, relative: str, old: str, new: str) -> int:
    """Replace the one line ``old`` of ``config/<relative>`` with ``new``; its 1-based number."""
    path = project / "config" / relative
    lines = path.read_text().splitlines()
    (index,) = [i for i, line in enumerate(lines) if line == old]
    lines[index] = new
    path.write_text("\n".join(lines) + "\n")
    return index + 1


def run(project: Path, *command: str) -> subprocess.CompletedProcess:
    env = {**OFFLINE, "HOME": str(project)}
    return subprocess.run(
        command, cwd=project, capture_output=True, text=True, env=env, timeout=120
    )


def check(project: Path, *environments: str) -> subprocess.CompletedProcess:
    return run(project, PYTHON, "-m", "tunnel_infra.config_check", *environments)


def generate(project: Path, stack: str) -> subprocess.CompletedProcess:
    return run(project, SCEPTRE, "--no-colour", "generate", stack)


def one_line(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert result.returncode == 1, output
    return lines[0]


# A YAML syntax error.


def test_check_reports_a_yaml_syntax_error_with_file_line_and_column(project):
    line = edit(project, "dev/config.yaml", "  memory_mb: 256", "  memory_mb: 256: 512")
    expected = f"config/dev/config.yaml:{line}:17: could not parse YAML: "
    expected += "mapping values are not allowed here"
    assert one_line(check(project, "dev")) == expected
    # make render checks every environment: the same line.
    assert one_line(check(project)) == expected


def test_check_reports_every_file_that_does_not_parse(project):
    first = edit(project, "dev/config.yaml", "  memory_mb: 256", "  memory_mb: 256: 512")
    second = edit(
        project,
        "dev/tables.yaml",
        "template: {type: troposphere, path: tables.py}",
        "template: {type: [",
    )
    result = check(project, "dev")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        f"config/dev/config.yaml:{first}:17",
        f"config/dev/tables.yaml:{second + 1}:1",
    ], lines


def test_check_reports_an_unknown_tag_in_one_line(project):
    line = edit(
        project,
        "dev/functions.yaml",
        "  ConnectCodeKey: !function_code_key connect",
        "  ConnectCodeKey: !function_code_kee connect",
    )
    out = one_line(check(project, "dev"))
    assert out.startswith(f"config/dev/functions.yaml:{line}:19: "), out
    assert "!function_code_kee" in out


def test_check_reports_a_jinja_error_in_one_line(project):
    edit(
        project,
        "dev/tables.yaml",
        "template: {type: troposphere, path: tables.py}",
        "template: {type: troposphere, path: {{ nope }}}",
    )
    out = one_line(check(project, "dev"))
    assert out.startswith("config/dev/tables.yaml: "), out
    assert "'nope' is undefined" in out


# A misspelt setting, set in the environment's config.yaml and inherited by every stack.


def test_check_reports_a_misspelt_key_where_it_is_set(project):
    line = edit(project, "dev/config.yaml", "  memory_mb: 256", "  memroy_mb: 256")
    assert one_line(check(project, "dev")) == (
        f"config/dev/config.yaml:{line}: sceptre_user_data.memroy_mb is not a known setting; "
        "did you mean memory_mb?"
    )


def test_sceptre_reports_a_misspelt_key_where_it_is_set(project):
    line = edit(project, "dev/config.yaml", "  memory_mb: 256", "  memroy_mb: 256")
    # Sceptre prints a SceptreException as a JSON string: one line, in quotes.
    assert one_line(generate(project, "dev/tables.yaml")) == (
        f'"config/dev/config.yaml:{line}: sceptre_user_data.memroy_mb is not a known setting; '
        'did you mean memory_mb?"'
    )


# A bad value: the key and the valid values.


def test_check_reports_a_bad_architecture_with_the_valid_values(project):
    line = edit(project, "dev/config.yaml", "  architecture: x86_64", "  architecture: x86-64")
    assert one_line(check(project, "dev")) == (
        f"config/dev/config.yaml:{line}: sceptre_user_data.architecture is 'x86-64'; "
        "valid values: x86_64, arm64"
    )


def test_sceptre_reports_a_bad_architecture_with_the_valid_values(project):
    line = edit(project, "dev/config.yaml", "  architecture: x86_64", "  architecture: x86-64")
    assert one_line(generate(project, "dev")) == (
        f"\"config/dev/config.yaml:{line}: sceptre_user_data.architecture is 'x86-64'; "
        'valid values: x86_64, arm64"'
    )


@pytest.mark.parametrize("hook", [Preflight, PackageFunctions])
def test_launch_hooks_report_a_bad_architecture_where_it_is_set(project, hook):
    # sceptre launch runs !preflight and !package_functions before any template is rendered.
    line = edit(project, "dev/config.yaml", "  architecture: x86_64", "  architecture: x86-64")
    user_data = read_config("dev/config.yaml")["sceptre_user_data"]
    stack = SimpleNamespace(
        name="dev/keys",
        stack_group_config={"project_path": str(project)},
        sceptre_user_data={**user_data, "architecture": "x86-64"},
    )
    with pytest.raises(SceptreException) as raised:
        hook(argument=None, stack=stack).run()
    assert str(raised.value) == (
        f"config/dev/config.yaml:{line}: sceptre_user_data.architecture is 'x86-64'; "
        "valid values: x86_64, arm64"
    )


# The check on a good project, and its arguments.


def test_check_is_silent_on_every_environment_of_the_project(project):
    for environments in ((), ("dev",), ("staging", "prod")):
        result = check(project, *environments)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_check_refuses_an_unknown_environment(project):
    assert one_line(check(project, "qa")) == (
        "config/qa: no such environment; known: account, dev, prod, staging"
    )


def test_check_reports_a_setting_of_each_environment_once(project):
    dev = edit(project, "dev/config.yaml", "  tracing: true", "  tracing: yes please")
    prod = edit(
        project, "prod/config.yaml", "  log_retention_days: 90", "  log_retention_days: 100"
    )
    result = check(project)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"config/dev/config.yaml:{dev}: sceptre_user_data.tracing is 'yes please'; "
        "valid values: true, false",
        f"config/prod/config.yaml:{prod}: sceptre_user_data.log_retention_days is 100; "
        "valid values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827",
    ]


# The locator: which file of the config chain sets a key, on which line.


def write(project: Path, relative: str, text: str) -> None:
    (project / "config" / relative).write_text(text)


def where(project: Path, stack: str, key: str) -> str:
    return str(locate_setting(project, stack, key))


def test_a_stack_file_with_its_own_user_data_replaces_the_environments(project):
    # Sceptre's default for sceptre_user_data is override: the stack file's mapping wins whole.
    write(
        project,
        "dev/tables.yaml",
        "template: {type: troposphere, path: tables.py}\n"
        "sceptre_user_data:\n  environment: dev\n  memory_mb: 128\n",
    )
    assert where(project, "dev/tables", "memory_mb") == "config/dev/tables.yaml:4"
    # Not in the stack's mapping: missing there, whatever config.yaml says.
    assert where(project, "dev/tables", "tracing") == "config/dev/tables.yaml:2"
    assert where(project, "dev/keys", "memory_mb").startswith("config/dev/config.yaml:")


def test_merge_inheritance_finds_each_key_in_its_own_file(project):
    write(
        project,
        "dev/tables.yaml",
        "template: {type: troposphere, path: tables.py}\n"
        "sceptre_user_data_inheritance: merge\nsceptre_user_data:\n  memory_mb: 128\n",
    )
    config = (project / "config/dev/config.yaml").read_text().splitlines()
    tracing = config.index("  tracing: true") + 1
    assert where(project, "dev/tables", "memory_mb") == "config/dev/tables.yaml:4"
    assert where(project, "dev/tables", "tracing") == f"config/dev/config.yaml:{tracing}"


def test_a_missing_key_is_located_at_its_parent(project):
    config = (project / "config/dev/config.yaml").read_text().splitlines()
    throttling = config.index("  throttling:") + 1
    user_data = config.index("sceptre_user_data:") + 1
    assert where(project, "dev/tables", "throttling.nope") == f"config/dev/config.yaml:{throttling}"
    assert where(project, "dev/tables", "nope") == f"config/dev/config.yaml:{user_data}"
    assert where(project, "dev/tables", "") == f"config/dev/config.yaml:{user_data}"


def test_user_data_in_the_root_config_is_found_there(project):
    write(
        project,
        "config.yaml",
        "project_code: x\nregion: us-east-1\nsceptre_user_data:\n  memory_mb: 1\n",
    )
    write(project, "dev/config.yaml", "stack_tags: {}\n")
    assert where(project, "dev/tables", "memory_mb") == "config/config.yaml:4"


def test_no_user_data_anywhere_names_the_environments_config(project):
    write(project, "dev/config.yaml", "stack_tags: {}\n")
    assert where(project, "dev/tables", "environment") == "config/dev/config.yaml"


def test_jinja_in_a_config_file_keeps_its_line_numbers(project):
    write(
        project,
        "dev/config.yaml",
        "{# a comment\n   over two lines #}\nsceptre_user_data:\n"
        "  environment: {{ var.env | default('dev') }}\n"
        "{% if true %}\n  memory_mb: 1\n{% endif %}\n",
    )
    assert where(project, "dev/tables", "memory_mb") == "config/dev/config.yaml:6"
    assert where(project, "dev/tables", "environment") == "config/dev/config.yaml:4"


def test_a_file_that_does_not_parse_is_skipped_by_the_locator(project):
    write(project, "dev/tables.yaml", "sceptre_user_data: [\n")
    assert where(project, "dev/tables", "memory_mb").startswith("config/dev/config.yaml:")
