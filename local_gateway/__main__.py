"""``python -m local_gateway [--port 4567] [--environment dev] [--host 127.0.0.1]``

Serves the environment deployed at AWS_ENDPOINT_URL (``make local``) on one loopback port, running
each function's deployed code, and following the environment while it runs (follow.py: new code,
new configuration, a relaunch, its stacks deleted);
``make tunnel-local`` runs it for dev. ``--port 0`` serves on a port the OS picks: the ready line
(``local gateway: ready on http://127.0.0.1:<port>: ...``) names it.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import Sequence

from tunnel_shared.limits import IDLE_TIMEOUT_SECONDS, MAX_CONNECTION_SECONDS

from local_gateway.deployment import DeploymentError
from local_gateway.server import Settings, bind, is_loopback, serve, start


def parse(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m local_gateway",
        description="A local API Gateway for the deployed environment: WebSocket API, HTTP API "
        "and @connections on one loopback port.",
    )
    parser.add_argument(
        "--port", type=int, default=4567, help="0: one the OS picks (the ready line names it)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--environment", default="dev", help="also the stage name")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=IDLE_TIMEOUT_SECONDS,
        help="seconds without a client message before a WebSocket closes (AWS: 600)",
    )
    parser.add_argument(
        "--max-connection-duration",
        type=float,
        default=MAX_CONNECTION_SECONDS,
        help="seconds a WebSocket may stay open (AWS: 7200)",
    )
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        # It runs the functions with the operator's environment: never expose it.
        parser.error(f"--host {args.host} is not a loopback address")
    return Settings(
        port=args.port,
        # The name localhost is the HTTP API's (the tunnels' public URLs): the WebSocket API and
        # @connections are reached by address.
        host="127.0.0.1" if args.host == "localhost" else args.host,
        environment=args.environment,
        idle_timeout_seconds=args.idle_timeout,
        max_connection_seconds=args.max_connection_duration,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse(argv)
    listening: socket.socket | None = None
    if settings.port == 0:
        # The functions' environment names this gateway's URL: know the port before start().
        # A given port is bound after start(), so that a missing deployment is told first.
        try:
            listening, settings = bind(settings)
        except OSError as error:
            print(f"local gateway: cannot serve on {settings.base_url}: {error}", file=sys.stderr)
            return 1
    # Whatever ends a start early, nothing is left behind: start() and serve() stop the workers
    # and remove the unpacked code (a temporary folder) on their way out.
    try:
        gateway = start(settings)
    except DeploymentError as error:
        print(f"local gateway: {error}", file=sys.stderr)
        if listening is not None:
            listening.close()
        return 2
    except KeyboardInterrupt:
        print("local gateway: interrupted while starting", file=sys.stderr)
        return 130
    try:
        asyncio.run(serve(gateway, listening))
    except OSError as error:  # the port is taken, most likely
        print(f"local gateway: cannot serve on {settings.base_url}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the gateway's own handler was in place
        gateway.runtime.close()  # serve() may not have begun, so its cleanup may not run
        print("local gateway: interrupted while starting", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
