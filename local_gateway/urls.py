"""``python -m local_gateway.urls [--port 4567] [--environment dev]``: the URLs the local gateway
serves for the deployed environment, as ``make tunnel-local`` will serve them.

``make local`` prints them after the launch: the AWS-form outputs (``wss://…amazonaws.com``) do
not work on one machine, these do. Read from the deployment as the gateway reads it, so the two
never disagree; nothing is started.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import boto3

from local_gateway import deployment
from local_gateway.server import Settings, public_url_format


def local_urls(settings: Settings) -> list[tuple[str, str]]:
    """(label, URL) of what the gateway serves on ``settings``, from what was deployed."""
    deployed = deployment.load(settings.environment, boto3.session.Session())
    urls = [
        ("WebSocket URL (agents)", f"ws://{settings.host}:{settings.port}/{settings.environment}"),
        ("tunnel URLs", public_url_format(deployed, settings.port)),
        ("@connections", f"{settings.connections_endpoint}/@connections"),
    ]
    if deployed.answers is not None:
        api_id = deployed.answers.api_id
        urls.append(("answers (forwarding)", settings.answers_url(api_id)))
    return urls


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_gateway.urls", description=__doc__)
    parser.add_argument("--port", type=int, default=Settings.port)
    parser.add_argument("--environment", default=Settings.environment)
    args = parser.parse_args(argv)
    try:
        urls = local_urls(Settings(port=args.port, environment=args.environment))
    except deployment.DeploymentError as error:
        print(f"local gateway: {error}", file=sys.stderr)
        return 2
    for label, url in urls:
        print(f"{label:>24}: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
