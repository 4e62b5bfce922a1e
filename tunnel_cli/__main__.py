"""The ``tunnel`` command line: ``tunnel http PORT`` runs one tunnel, ``tunnel start`` the ones
``tunnel.yml`` describes; ``tunnel token`` issues, lists and revokes agent tokens; ``tunnel
logs`` shows what the functions did. Argument handling only; the work is in ``runner`` (with
``agent`` and the inspector), ``config``, ``token_command`` and ``logs_command``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from tunnel_shared import connections, limits
from tunnel_shared.tokens import TokenError, read_claims

from tunnel_cli import agent as agent_module
from tunnel_cli import config as config_module
from tunnel_cli import exposure, runner
from tunnel_cli.forward import HOST_HEADER_POLICIES
from tunnel_cli.logs_command import DEFAULT_SINCE
from tunnel_cli.terminal import printable
from tunnel_cli.websocket_url import shown_url, url_problem

HTTP_DESCRIPTION = """\
Expose http://LOCAL-HOST:PORT at a public https://<subdomain>.<domain> URL.

The token decides the subdomain: `tunnel token --subdomain NAME` issues one for NAME.
--subdomain is only a check: it must equal the subdomain the token grants (the agent reads the
token's claims without verifying them; the server verifies the token).

Prints "Web Interface http://127.0.0.1:4040" (the request inspector; see --inspect-addr),
"Forwarding <public url> -> http://LOCAL-HOST:PORT" once connected (again after each
reconnect), then one "<METHOD> <path>?<query> <status> <size> <n>ms" line per request (the
values of credentials in the query, such as token= or code=, shown as …). Ctrl-C stops it
(exit 0). Exits 1 when the server refuses the token or the subdomain is held by another agent,
when the server closes the tunnel, or when the token expires; also when the first connection
finds nothing at --url after a few tries (connection refused, no such host, HTTP 400 or 404):
once a tunnel has been up, a lost connection is retried for as long as it takes. 2 on a bad
argument.
"""

START_DESCRIPTION = f"""\
Run the tunnels described in tunnel.yml (./tunnel.yml, else ~/.config/tunnel/tunnel.yml):

  url: wss://abc123.execute-api.eu-west-1.amazonaws.com/dev
  tunnels:
    web:  {{port: 3000, token_env: WEB_TUNNEL_TOKEN, host_header: rewrite}}
    api:  {{addr: 127.0.0.1:8000, subdomain: api, token_env: API_TUNNEL_TOKEN}}

Each tunnel has its own connection; its lines start with [NAME]; they share one inspector.
Keys of a tunnel: {", ".join(sorted(config_module.TUNNEL_KEYS))}.
Keys of the file: {", ".join(sorted(config_module.TOP_KEYS))}.
One tunnel that is refused or ends does not stop the others. Exit codes as for `tunnel http`.
"""

TOKEN_DESCRIPTION = """\
  tunnel token --subdomain NAME     issue a token for NAME (recorded by its id)
  tunnel token list                 the live tokens: id, subdomain, subject, expiry
  tunnel token revoke TOKEN_OR_ID   refuse it from now on; its live connection is closed

Tokens are signed with the environment's signing secret, read with your AWS credentials
(secretsmanager:GetSecretValue), and recorded in http-tunnel-tokens-ENVIRONMENT. Issuing prints
a one-line summary on stderr and the token as the last line of stdout:
  TUNNEL_TOKEN=$(tunnel token --subdomain demo)
Against the local emulator: AWS_ENDPOINT_URL=http://127.0.0.1:4566 tunnel token --subdomain demo

Revoking closes the token's live connection through the WebSocket API's @connections URL:
--connections-endpoint, else $TUNNEL_CONNECTIONS_ENDPOINT (the Makefile's local targets set it
to the local gateway's, http://127.0.0.1:4567/dev), else the one the apis stack names. If that
connection cannot be closed, the token stays revoked, one line says why, and the exit code is 1.
"""

LOGS_DESCRIPTION = """\
One line per function invocation, from every function's log group (found from the functions
stack's outputs), oldest first:

  TIME  FUNCTION  SUBDOMAIN  STATUS  DURATION  REQUEST-ID

STATUS is the HTTP status the function noted, else its outcome (connected, allow, deny, ...).
REQUEST-ID is the tunnel's request id where there is one (the forwarding and response lines of
one public request share it), else the invocation's Lambda request id. Never a token, a body or
a query string: the functions do not log them. Needs cloudformation:DescribeStacks and
logs:FilterLogEvents. Against the local stack: make logs-local LOGS_ARGS='--follow'.
Exit 0; 2 on a bad flag or when the logs cannot be read (one line says why).
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "http":
            return _http(args)
        if args.command == "start":
            return _start(args)
        if args.command == "logs":
            return _logs(args)
        return _token(args)
    except KeyboardInterrupt:  # Ctrl-C before the agent's own handler is in place
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tunnel", description="A serverless HTTP tunnel.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    http = commands.add_parser(
        "http",
        help="forward a public URL to a local port",
        description=HTTP_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    http.add_argument("port", type=_port, metavar="PORT", help="local port to forward to")
    http.add_argument(
        "--subdomain", help="expected subdomain; must match the token's (checked, not chosen)"
    )
    http.add_argument(
        "--url",
        default=os.environ.get("TUNNEL_URL"),
        help="the WebSocket API, wss://... or ws://127.0.0.1:4567/dev (default: $TUNNEL_URL)",
    )
    http.add_argument(
        "--token",
        default=os.environ.get("TUNNEL_TOKEN"),
        help="agent token (default: $TUNNEL_TOKEN, which keeps it out of `ps`)",
    )
    http.add_argument(
        "--local-host", default="127.0.0.1", help="address of the local service (127.0.0.1)"
    )
    http.add_argument(
        "--host-header",
        choices=HOST_HEADER_POLICIES,
        default="preserve",
        help="preserve: the local service sees the public Host (default); rewrite: it sees "
        "LOCAL-HOST:PORT, the public one in X-Forwarded-Host (for dev servers that only "
        "accept localhost)",
    )
    http.add_argument(
        "--local-timeout",
        type=_seconds,
        default=agent_module.DEFAULT_LOCAL_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="answer 502 when the local service is silent this long "
        f"({agent_module.DEFAULT_LOCAL_TIMEOUT_SECONDS:g})",
    )
    _add_running_options(http)

    start = commands.add_parser(
        "start",
        help="run the tunnels described in tunnel.yml",
        description=START_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    start.add_argument("names", nargs="*", metavar="NAME", help="the tunnels to run")
    start.add_argument("--all", action="store_true", help="run every tunnel in the file")
    start.add_argument("--config", metavar="PATH", help="the file, instead of looking for one")
    _add_running_options(start)

    token = commands.add_parser(
        "token",
        help="issue an agent token (needs AWS credentials)",
        description=TOKEN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token.add_argument("action", nargs="?", choices=("list", "revoke"), help=argparse.SUPPRESS)
    token.add_argument("target", nargs="?", help=argparse.SUPPRESS)
    token.add_argument("--subdomain", help="issue: the subdomain the token grants")
    token.add_argument(
        "--ttl", default="30d", help="lifetime, with its unit: 30d, 12h, 90m or 3600s (30d)"
    )
    token.add_argument(
        "--subject",
        help="the person or machine it is for (default: a random id of its own)",
    )
    token.add_argument(
        "--environment",
        default="dev",
        help="its secret http-tunnel-signing-key-ENV and table http-tunnel-tokens-ENV (dev)",
    )
    token.add_argument("--secret-id", help="the signing secret's name or ARN, instead")
    token.add_argument(
        "--connections-endpoint",
        default=os.environ.get("TUNNEL_CONNECTIONS_ENDPOINT") or None,
        help="revoke: the WebSocket API's @connections URL (default: "
        "$TUNNEL_CONNECTIONS_ENDPOINT, else found from the apis stack)",
    )

    logs = commands.add_parser(
        "logs",
        help="what the functions did, one line per invocation (needs AWS credentials)",
        description=LOGS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logs.add_argument(
        "--environment", default="dev", help="the environment whose functions to read (dev)"
    )
    logs.add_argument(
        "--function",
        action="append",
        default=[],
        metavar="NAME",
        help="only this function (repeat it, or NAME,NAME); the names the functions stack "
        "declares: forwarding, response, connect, ...",
    )
    logs.add_argument("--subdomain", help="only the lines about this subdomain")
    logs.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        help="from this long ago (30s, 10m, 2h, 1d) or this time (ISO 8601, UTC unless it "
        f"says): {DEFAULT_SINCE}",
    )
    logs.add_argument("--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    return parser


def _add_running_options(command: argparse.ArgumentParser) -> None:
    inspect = command.add_argument_group("the request inspector")
    inspect.add_argument(
        "--inspect-addr",
        metavar="HOST:PORT",
        help="where the inspector's page and JSON API listen (default 127.0.0.1:4040, or the "
        "next free port)",
    )
    inspect.add_argument("--no-inspect", action="store_true", help="do not run the inspector")
    inspect.add_argument(
        exposure.REMOTE_INSPECTOR_FLAG,
        action="store_true",
        help="let --inspect-addr be an address other machines reach (it serves captured "
        "cookies and tokens, and replays requests)",
    )
    command.add_argument(
        exposure.CLEARTEXT_FLAG,
        action="store_true",
        help="let a ws:// URL name another machine (the token then crosses the network "
        "unencrypted)",
    )
    tuning = command.add_argument_group("connection tuning (defaults suit API Gateway)")
    _env_seconds(
        tuning,
        "--heartbeat",
        "TUNNEL_HEARTBEAT_SECONDS",
        agent_module.DEFAULT_HEARTBEAT_SECONDS,
        "seconds between heartbeats, inside the 10-minute idle timeout",
        kind=_heartbeat_seconds,
    )
    _env_seconds(
        tuning,
        "--reconnect-after",
        "TUNNEL_RECONNECT_AFTER_SECONDS",
        agent_module.DEFAULT_ROTATE_SECONDS,
        "seconds before a fresh connection replaces the current one, under the 2-hour cap",
    )
    _env_seconds(
        tuning, "--backoff-initial", "TUNNEL_BACKOFF_INITIAL_SECONDS", 1.0, "first reconnect delay"
    )
    _env_seconds(
        tuning, "--backoff-max", "TUNNEL_BACKOFF_MAX_SECONDS", 60.0, "longest reconnect delay"
    )


def _token(args: argparse.Namespace) -> int:
    from tunnel_cli import token_command  # boto3 is imported only for this command

    if args.action == "list":
        return token_command.list_tokens(args.environment)
    if args.action == "revoke":
        if not args.target:
            return _usage("tunnel token revoke needs a token or a token id")
        return token_command.revoke_token(args.target, args.environment, args.connections_endpoint)
    if args.target or not args.subdomain:
        return _usage("issue a token with --subdomain NAME (or: tunnel token list|revoke ID)")
    secret_id = args.secret_id or token_command.secret_id_for(args.environment)
    tokens_table = token_command.table_for(args.environment, "tokens")
    return token_command.run(
        args.subdomain, args.ttl, args.subject, secret_id, tokens_table=tokens_table
    )


def _logs(args: argparse.Namespace) -> int:
    from tunnel_cli import logs_command  # boto3 is imported only for this command

    return logs_command.run(
        args.environment, args.function, args.subdomain, args.since, args.follow
    )


def _usage(problem: str) -> int:
    print(printable(f"tunnel token: error: {problem}"), file=sys.stderr, flush=True)
    return 2


def _http(args: argparse.Namespace) -> int:
    if not args.url:
        return _fail("no WebSocket URL: pass --url wss://... or set TUNNEL_URL")
    problem = url_problem(args.url)
    if problem is not None:
        print(
            printable(f"tunnel: --url {shown_url(args.url)!r}: {problem}"),
            file=sys.stderr,
            flush=True,
        )
        return 2
    problem = None if args.allow_cleartext else exposure.cleartext_problem(args.url)
    if problem is not None:
        return _fail(f"--url {shown_url(args.url)}: {problem}")
    if not args.token:
        return _fail(
            "no token: set TUNNEL_TOKEN or pass --token (issue one with "
            "`tunnel token --subdomain NAME`)"
        )
    try:
        claims = read_claims(args.token.strip())
    except TokenError as exc:
        return _fail(f"the token is unusable: {exc}")
    if args.subdomain is not None and args.subdomain != claims.subdomain:
        return _fail(
            f"--subdomain {args.subdomain!r} does not match the token's subdomain "
            f"{claims.subdomain!r}; the token decides the subdomain (issue one with "
            f"`tunnel token --subdomain {args.subdomain}`)"
        )
    try:
        inspect = _inspect_at(args.inspect_addr, args.no_inspect, args.allow_remote_inspector)
    except ValueError as error:
        return _fail(f"--inspect-addr: {error}")
    # An expired token is the agent's to report (exit 1): it also times the expiry.
    settings = _settings(
        args,
        url=args.url,
        token=args.token.strip(),
        port=args.port,
        local_host=args.local_host,
        host_header=args.host_header,
        local_timeout=args.local_timeout,
    )
    return runner.run([runner.Tunnel(claims.subdomain, settings)], inspect)


def _start(args: argparse.Namespace) -> int:
    try:
        config = config_module.load(config_module.find(args.config))
        names = _chosen(config, args.names, args.all)
        inspect = _inspect_at(
            args.inspect_addr or config.inspect_addr,
            args.no_inspect or not config.inspect,
            args.allow_remote_inspector or config.allow_remote_inspector,
        )
        cleartext = exposure.cleartext_problem(config.url)
        if cleartext is not None and not (args.allow_cleartext or config.allow_cleartext):
            raise config_module.ConfigError(f"{config.path}: url: {cleartext}")
    except config_module.ConfigError as error:
        print(printable(f"tunnel: error: {error}"), file=sys.stderr, flush=True)
        return 2
    except ValueError as error:  # the inspector's address, from the command line or the file
        where = "--inspect-addr" if args.inspect_addr else f"{config.path}: inspect_addr"
        return _fail(f"{where}: {error}")
    if config.warning:
        print(printable(f"tunnel: warning: {config.warning}"), file=sys.stderr, flush=True)
    tunnels = []
    for name in names:
        tunnel = config.tunnels[name]
        settings = _settings(
            args,
            url=config.url,
            token=tunnel.token,
            port=tunnel.port,
            local_host=tunnel.local_host,
            host_header=tunnel.host_header,
            local_timeout=tunnel.local_timeout,
            label=name,
        )
        tunnels.append(runner.Tunnel(name, settings))
    return runner.run(tunnels, inspect)


def _chosen(config: config_module.Config, names: list[str], everything: bool) -> list[str]:
    known = ", ".join(config.tunnels)
    if everything and names:
        raise config_module.ConfigError("name tunnels or pass --all, not both")
    if everything:
        return list(config.tunnels)
    if not names:
        raise config_module.ConfigError(
            f"name the tunnels to start, or pass --all ({config.path} has: {known})"
        )
    for name in names:
        if name not in config.tunnels:
            raise config_module.ConfigError(
                f"{config.path} has no tunnel {name!r} (it has: {known})"
            )
    return list(dict.fromkeys(names))


def _inspect_at(address: str | None, off: bool, remote: bool) -> runner.InspectAt | None:
    """Where the inspector listens (None: off); ``ValueError`` for an address that is not
    HOST:PORT, or not loopback unless ``remote`` allows it."""
    if off:
        return None
    if address is None:
        return runner.InspectAt()
    host, port = config_module.parse_addr(address, any_port=True)
    problem = None if remote else exposure.remote_inspector_problem(host)
    if problem is not None:
        raise ValueError(problem)
    return runner.InspectAt(host, port, chosen=True)


def _settings(args: argparse.Namespace, **tunnel: object) -> agent_module.AgentSettings:
    return agent_module.AgentSettings(
        **tunnel,  # type: ignore[arg-type]
        heartbeat_seconds=args.heartbeat,
        rotate_seconds=args.reconnect_after,
        backoff_initial=args.backoff_initial,
        backoff_max=args.backoff_max,
    )


def _fail(message: str) -> int:
    print(printable(f"tunnel: error: {message}"), file=sys.stderr, flush=True)
    return 2


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port {port} is not between 1 and 65535")
    return port


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return seconds


def _heartbeat_seconds(text: str) -> float:
    """Pings are limited per connection (tunnel_shared.connections): one a minute at most after
    a short burst, else the server closes the agent; and they must come inside the idle
    timeout."""
    seconds = _seconds(text)
    least, most = connections.MESSAGE_INTERVAL_SECONDS, limits.IDLE_TIMEOUT_SECONDS
    if not least <= seconds < most:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not from {least} to under {most} seconds: the server closes an agent "
            f"that pings more than once a minute, and an idle one after {most // 60} minutes"
        )
    return seconds


def _env_seconds(
    group: argparse._ArgumentGroup,
    flag: str,
    env: str,
    default: float,
    help_text: str,
    kind: Callable[[str], float] | None = None,
) -> None:
    # The environment variable lets tests (and wrappers) tune it without changing the command.
    group.add_argument(
        flag,
        type=kind or _seconds,
        default=os.environ.get(env, str(default)),
        metavar="SECONDS",
        help=f"{help_text} (default {default:g}; env {env})",
    )


if __name__ == "__main__":
    sys.exit(main())
