"""``python -m emulator``: moto's server plus our CloudFormation extensions, in
the foreground, on loopback only."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Iterable
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from emulator.call_log import ENVIRONMENT_VARIABLE as CALL_LOG_VARIABLE
from emulator.process import PID_HEADER, READY_FORMAT

log = logging.getLogger("emulator")


def _loopback(host: str) -> str:
    # Its credentials are public ("testing"): never let it listen beyond this machine.
    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise argparse.ArgumentTypeError(f"{host!r} is not a loopback address")
    return host


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description=__doc__,
        epilog="environment: EMULATOR_LAMBDA_CONCURRENT_EXECUTIONS=N, the account's Lambda "
        "concurrency quota (default 1000; 10 or 50 model a new account), read at start: "
        "GetAccountSettings reports it and reservations must leave min(100, N) unreserved "
        "(emulator/strict.py)",
    )
    parser.add_argument("--host", type=_loopback, default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=4566,
        help="0: a port the OS picks; the ready line names the real one",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--call-log",
        metavar="FILE",
        default=os.environ.get(CALL_LOG_VARIABLE) or None,
        help="append each signed request's service and operation to FILE, one JSON line each "
        f"(default: ${CALL_LOG_VARIABLE}; off when neither is set)",
    )
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)  # unwinds serve_forever(), so the socket gets closed


def with_pid_header(app: WSGIApplication) -> WSGIApplication:
    """Answers under /moto-api/ say which process serves them (``X-Emulator-Pid``): a readiness
    check then knows it reached the process it started, not another one on that port."""
    pid = str(os.getpid())

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith("/moto-api/"):
            return app(environ, start_response)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, (PID_HEADER, pid)], exc_info)

        return app(environ, start)

    return application


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.access_log else logging.WARNING)
    # Imported once the arguments are valid: these import moto, which takes a while.
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from emulator import (
        atomic_items,
        change_sets,
        drift,
        native_updates,
        noop_update,
        providers,
        strict,
    )
    from emulator.browser_guard import with_browser_guard
    from emulator.function_code import with_function_code_locations
    from emulator.post_uploads import with_post_policy_checks
    from emulator.presigned_urls import with_presigned_url_checks

    providers.register()
    noop_update.install()
    change_sets.install()
    native_updates.install()
    atomic_items.install()
    drift.install()
    strict.install()  # last: it wraps what the others patched

    # S3 presigned URLs and POST uploads are refused as S3 refuses them (moto serves any);
    # GetFunction's
    # Code.Location downloads the function's zip, for 10 minutes (moto's cannot be fetched).
    # Outermost, before anything else sees a request: web pages and foreign Host names are
    # refused, every other request must be SigV4-signed, and no answer carries CORS headers.
    app = with_pid_header(
        with_function_code_locations(
            with_post_policy_checks(
                with_presigned_url_checks(DomainDispatcherApplication(create_backend_app))
            )
        )
    )
    if args.call_log:
        from emulator.call_log import with_call_log

        # Inside the guard: what it refuses was never served.
        app = with_call_log(app, args.call_log)
    app = with_browser_guard(app)
    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    port = int(server.socket.getsockname()[1])  # the real one, also with --port 0
    # moto builds some URLs (e.g. custom-resource callbacks) from MOTO_PORT, when it needs them.
    os.environ["MOTO_PORT"] = str(port)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # The socket is bound and listening once make_server returns; the pid tells whoever started
    # this process that the line is its own (emulator.process.ready_port).
    log.info(READY_FORMAT, args.host, port, os.getpid())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
