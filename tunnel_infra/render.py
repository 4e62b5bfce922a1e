"""Render every template of every environment, offline: ``python -m tunnel_infra.render OUT``.

One process and one Sceptre plan over every stack of every environment, read through Sceptre's
own config reader, so what is rendered is what ``sceptre launch`` would send. No resolver that
calls AWS is in any ``sceptre_user_data``, so nothing here needs credentials or a network.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sceptre.context import SceptreContext
from sceptre.exceptions import SceptreException
from sceptre.plan.plan import SceptrePlan
from sceptre.stack import Stack

PROJECT_PATH = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("dev", "staging", "prod")


def render_environment(environment: str, project_path: Path = PROJECT_PATH) -> dict[str, str]:
    """Stack name (``dev/tables``) → template body, for one environment ("" for all): the
    stacks ``sceptre launch`` launches, so not an ``obsolete`` or ``ignore``d one (the domain
    stack of an environment without a custom domain)."""
    context = SceptreContext(project_path=str(project_path), command_path=environment)
    plan = SceptrePlan(context)
    plan.resolve(command=plan.generate.__name__)
    plan.filter(launched)
    return {stack.name: body for stack, body in plan.generate().items()}


def launched(stack: Stack) -> bool:
    """Whether ``sceptre launch`` creates or updates the stack (it skips these two)."""
    return not stack.ignore and not stack.obsolete


def render_all(project_path: Path = PROJECT_PATH) -> dict[str, str]:
    """Every stack of every environment; one plan, so Sceptre reads the config once."""
    return dict(sorted(render_environment("", project_path).items()))


def write(rendered: dict[str, str], out: Path) -> list[Path]:
    written = []
    for name, body in rendered.items():
        path = out / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != body:
            path.write_text(body)
        written.append(path)
    # A stack removed from config must not linger in the output.
    for stale in set(out.rglob("*.yaml")) - set(written):
        stale.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write <env>/<stack>.yaml into")
    args = parser.parse_args(argv)
    try:
        rendered = render_all()
    except SceptreException as error:
        print(f"render failed: {error}", file=sys.stderr)
        return 1
    write(rendered, args.out)
    print(f"rendered {len(rendered)} templates into {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
