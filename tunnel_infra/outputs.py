"""``python -m tunnel_infra.outputs dev``: what a launched environment offers, in a few lines."""

from __future__ import annotations

import argparse
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from tunnel_shared.names import stack_name

from tunnel_infra.functions import FUNCTIONS

# (stack, output, label), in the order a user needs them.
SHOWN = (
    ("apis", "WebSocketUrl", "WebSocket URL (agents)"),
    ("apis", "HttpEndpoint", "HTTP endpoint (public)"),
    ("apis", "PublicUrlFormat", "tunnel URLs"),
    ("tables", "ConnectionsTableName", "connections table"),
    ("artifacts", "ArtifactsBucketName", "artifacts bucket"),
    ("domain", "DomainTarget", "custom domain target"),
    ("monitoring", "DashboardUrl", "dashboard"),
    # Only where existing_functions names a function in place of ours: what its owner must
    # give it (JSON, resolved), as ours would have it.
    *(
        ("functions", f"{function.title}Needs{need}", f"{function.name} needs {need.lower()}")
        for function in FUNCTIONS
        for need in ("Environment", "Policy", "Timeout")
    ),
)


def stack_outputs(environment: str) -> dict[str, dict[str, str]]:
    cloudformation = boto3.client("cloudformation")
    found: dict[str, dict[str, str]] = {}
    for stack in {stack for stack, _, _ in SHOWN}:
        try:
            described = cloudformation.describe_stacks(StackName=stack_name(environment, stack))
        except ClientError:
            continue  # not launched here (the domain stack, where no custom domain is set)
        outputs = described["Stacks"][0].get("Outputs", [])
        found[stack] = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("environment")
    parser.add_argument(
        "--only",
        action="append",
        choices=[key for _, key, _ in SHOWN],
        help="print only this output (repeatable); make local prints only the dashboard's",
    )
    args = parser.parse_args(argv)
    try:
        found = stack_outputs(args.environment)
    except (BotoCoreError, ClientError) as error:
        print(f"cannot read the {args.environment} stacks: {error}", file=sys.stderr)
        return 1
    if not found:
        print(f"no {args.environment} stacks are launched", file=sys.stderr)
        return 1
    for stack, key, label in SHOWN:
        if args.only and key not in args.only:
            continue
        if key in found.get(stack, {}):
            print(f"{label:>24}: {found[stack][key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
