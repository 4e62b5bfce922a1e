"""Lint rendered templates with cfn-lint and checkov: ``python -m tunnel_infra.lint DIR``.

Both linters run at once, each on the templates it has not yet passed in their current form. A
pass is remembered under a fingerprint of the template's bytes, the linter's pins and the project
rules, so a pre-commit round re-lints only what changed. ``--all`` ignores what was remembered.

checkov runs from its own virtualenv (it pins its own boto3) through ``checkov_scan.py``;
cfn-lint from the project's.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_PATH = Path(__file__).resolve().parent.parent
CACHE = PROJECT_PATH / "build" / "lint-cache"
CHECKOV_SCAN = Path(__file__).with_name("checkov_scan.py")


@dataclass(frozen=True)
class Linter:
    name: str
    command: list[str]  # the template paths are appended
    inputs: tuple[Path, ...]  # files whose change invalidates every pass
    environment: dict[str, str]

    def fingerprint(self, template: Path) -> str:
        digest = hashlib.sha256(" ".join(self.command).encode())
        for path in (*self.inputs, template):
            digest.update(path.read_bytes())
        return digest.hexdigest()


def linters(project: Path = PROJECT_PATH) -> list[Linter]:
    rules = project / "cfn_lint_rules"
    checkov_python = project / ".venv-checkov" / "bin" / "python"
    return [
        Linter(
            "cfn-lint",
            [
                str(Path(sys.executable).parent / "cfn-lint"),
                "--include-checks",
                "I",
                "--append-rules",
                str(rules),
                "--",
            ],
            # The rules read every policy through the IAM walker: a change there is a change of
            # the rules.
            (
                project / "requirements.txt",
                *sorted(rules.glob("*.py")),
                project / "tunnel_infra" / "iam_statements.py",
            ),
            {},
        ),
        Linter(
            "checkov",
            # -I: the script's folder must not shadow checkov's imports (packaging.py).
            [str(checkov_python), "-I", str(CHECKOV_SCAN)],
            (project / "checkov-requirements.txt", CHECKOV_SCAN),
            {},
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("templates", type=Path, help="folder of rendered <env>/<stack>.yaml")
    parser.add_argument("--all", action="store_true", help="lint every template, passed or not")
    args = parser.parse_args(argv)

    templates = sorted(args.templates.rglob("*.yaml"))
    if not templates:
        print(f"no templates under {args.templates}/; run `make render` first", file=sys.stderr)
        return 1
    started = time.monotonic()
    runs = []
    for linter in linters():
        pending = [t for t in templates if args.all or not _passed(linter, t)]
        process = None
        if pending:
            process = subprocess.Popen(
                [*linter.command, *map(str, pending)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, **linter.environment},
            )
        runs.append((linter, pending, process))

    failed = False
    for linter, pending, process in runs:
        output = process.communicate()[0] if process else ""
        ok = process is None or process.returncode == 0
        if ok:
            for template in pending:
                _remember(linter, template)
        else:
            failed = True
            print(output.rstrip())
        verdict = "clean" if ok else f"FAILED (exit {process.returncode})"
        print(
            f"{linter.name}: {verdict}; {len(templates)} templates, {len(pending)} linted, "
            f"{len(templates) - len(pending)} unchanged since they passed"
        )
    print(f"lint took {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


def _marker(linter: Linter, template: Path) -> Path:
    return CACHE / linter.name / linter.fingerprint(template)


def _passed(linter: Linter, template: Path) -> bool:
    return _marker(linter, template).exists()


def _remember(linter: Linter, template: Path) -> None:
    marker = _marker(linter, template)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


if __name__ == "__main__":
    sys.exit(main())
