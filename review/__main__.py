"""``python -m review plan ENV [...]`` and ``python -m review deploy ENV [...]``.

Run from the Sceptre project (the repository root), like ``sceptre``. AWS is reached as Sceptre
reaches it: profile and region from the config, credentials from the environment, and
AWS_ENDPOINT_URL for the local emulator.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import timedelta
from pathlib import Path

from review import drift, gate, markdown, planner, terminal
from review.deploy import deploy
from review.environment import show_hook_logs
from review.record import to_record, write
from tunnel_infra import local_stack

DEFAULT_MAX_AGE = "24h"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    """``90m``, ``24h``, ``2d`` or plain seconds."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 24h or 2d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m review", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("environment", help="a StackGroup under config/: dev, staging, prod")
    common.add_argument("--project", type=Path, default=Path("."), help="the Sceptre project")
    common.add_argument(
        "--out", type=Path, help="folder of <env>.md and <env>.json (default build/review)"
    )
    common.add_argument("--no-colour", "--no-color", action="store_true", dest="no_colour")

    plan = commands.add_parser(
        "plan", parents=[common], help="review every stack; write the plan; gate it"
    )
    plan.add_argument(
        "--allow-replace",
        action="append",
        default=[],
        metavar="LOGICAL_ID",
        help="approve replacing or removing this stateful resource (repeatable)",
    )
    plan.add_argument(
        "--approve-broadening", action="store_true", help="approve IAM permissions that widen"
    )
    plan.add_argument(
        "--allow-delete",
        action="append",
        default=[],
        metavar="STACK",
        help="approve deleting this stack (its CloudFormation name; repeatable)",
    )

    run = commands.add_parser(
        "deploy", parents=[common], help="execute exactly the reviewed change sets"
    )
    run.add_argument(
        "--max-age",
        type=duration,
        default=os.environ.get("REVIEW_MAX_AGE", DEFAULT_MAX_AGE),  # argparse applies type
        help=f"refuse a review older than this (default {DEFAULT_MAX_AGE}, or REVIEW_MAX_AGE)",
    )
    run.add_argument("--review", type=Path, help="the review JSON (default <out>/<env>.json)")
    return parser


def _colour(no_colour: bool) -> bool:
    return not no_colour and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def _plan(args: argparse.Namespace, out: Path) -> int:
    show_hook_logs()
    approvals = gate.Approvals(
        replace=frozenset(args.allow_replace),
        broadening=args.approve_broadening,
        delete=frozenset(args.allow_delete),
    )
    try:
        review = planner.plan(args.project.resolve(), args.environment)
    except Exception as error:  # noqa: BLE001 - config errors: one line, no traceback
        print(f"review failed: {_explained(error, args.environment)}", file=sys.stderr)
        return gate.ERROR
    findings = gate.evaluate(review, approvals)
    warnings = gate.unused_approvals(review, approvals)
    try:
        drifted: list[drift.StackDrift] | None = drift.environment_drift(
            args.project.resolve(), args.environment
        )
    except Exception as error:  # noqa: BLE001 - drift is shown, never gating: one line
        drifted = None
        warnings.append(f"drift not checked: {' '.join(str(error).split())}")
    json_path = write(to_record(review, findings, approvals), out / f"{args.environment}.json")
    md_path = out / f"{args.environment}.md"
    md_path.write_text(markdown.render(review, findings, drifted))
    print(
        terminal.render(
            review,
            findings,
            [str(md_path), str(json_path)],
            colour=_colour(args.no_colour),
            warnings=warnings,
            drift=drifted,
        ),
        end="",
    )
    return gate.exit_code(review, findings)


def _explained(error: Exception, environment: str) -> str:
    """The error in one line; missing credentials say how to reach the local stack instead."""
    text = " ".join(str(error).split())
    if "credentials" in text.lower() and not local_stack.is_local():
        text += (
            f"; AWS credentials are needed to review {environment} on AWS (AWS_PROFILE, or "
            "the profile in config/config.yaml); the local stack is reviewed with "
            "make review-local and deployed with make deploy-local"
        )
    return text


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not (args.project / "config" / args.environment).is_dir():
        print(
            f"{args.environment!r} is not an environment: no folder config/{args.environment}/ "
            f"in {args.project.resolve()}",
            file=sys.stderr,
        )
        return gate.ERROR
    out = args.out or args.project / "build" / "review"
    if args.command == "plan":
        return _plan(args, out)
    show_hook_logs()
    try:
        return deploy(
            args.project.resolve(),
            args.environment,
            args.review or out / f"{args.environment}.json",
            max_age=args.max_age,
        )
    except Exception as error:  # noqa: BLE001 - one line, no traceback
        print(f"deploy failed: {_explained(error, args.environment)}", file=sys.stderr)
        return gate.ERROR


if __name__ == "__main__":
    sys.exit(main())
