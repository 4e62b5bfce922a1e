"""``python -m emulator``: moto's server plus our CloudFormation extensions, in
the foreground, on loopback only."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
from types import FrameType

log = logging.getLogger("emulator")


def _loopback(host: str) -> str:
    # The emulator has no auth at all: never let it listen beyond this machine.
    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise argparse.ArgumentTypeError(f"{host!r} is not a loopback address")
    return host


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", type=_loopback, default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)  # unwinds serve_forever(), so the socket gets closed


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.access_log else logging.WARNING)
    # moto builds some URLs (e.g. custom-resource callbacks) from MOTO_PORT.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    # Imported here, after the environment is set: these import moto.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from emulator import change_sets, native_updates, noop_update, providers

    providers.register()
    noop_update.install()
    change_sets.install()
    native_updates.install()

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # The socket is bound and listening once make_server returns.
    log.info("emulator ready on http://%s:%d", args.host, args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
