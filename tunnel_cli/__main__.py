"""The ``tunnel`` command line: ``tunnel http PORT`` runs the agent; ``tunnel token`` issues,
lists and revokes agent tokens. Argument handling only; the work is in ``agent`` and
``token_command``."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from tunnel_shared.tokens import TokenError, read_claims

from tunnel_cli import agent as agent_module
from tunnel_cli.forward import HOST_HEADER_POLICIES

HTTP_DESCRIPTION = """\
Expose http://LOCAL-HOST:PORT at a public https://<subdomain>.<domain> URL.

The token decides the subdomain: `tunnel token --subdomain NAME` issues one for NAME.
--subdomain is only a check: it must equal the subdomain the token grants (the agent reads the
token's claims without verifying them; the server verifies the token).

Prints "Forwarding <public url> -> http://LOCAL-HOST:PORT" once connected (again after each
reconnect), then one "<METHOD> <path> <status> <n>ms" line per request. Ctrl-C stops it (exit
0). Exits 1 when the server refuses the token or the subdomain is held by another agent, when
the server closes the tunnel, or when the token expires; 2 on a bad argument.
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
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "http":
            return _http(args)
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
        default=25.0,
        metavar="SECONDS",
        help="answer 502 when the local service is silent this long (25)",
    )
    tuning = http.add_argument_group("connection tuning (defaults suit API Gateway)")
    _env_seconds(
        tuning,
        "--heartbeat",
        "TUNNEL_HEARTBEAT_SECONDS",
        agent_module.DEFAULT_HEARTBEAT_SECONDS,
        "seconds between heartbeats, inside the 10-minute idle timeout",
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

    token = commands.add_parser(
        "token",
        help="issue an agent token (needs AWS credentials)",
        description=TOKEN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token.add_argument("action", nargs="?", choices=("list", "revoke"), help=argparse.SUPPRESS)
    token.add_argument("target", nargs="?", help=argparse.SUPPRESS)
    token.add_argument("--subdomain", help="issue: the subdomain the token grants")
    token.add_argument("--ttl", default="30d", help="lifetime: 30d, 12h, 90m or 3600s (30d)")
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
        help="revoke: the WebSocket API's @connections URL (default: from the apis stack)",
    )
    return parser


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


def _usage(problem: str) -> int:
    print(f"tunnel token: error: {problem}", file=sys.stderr, flush=True)
    return 2


def _http(args: argparse.Namespace) -> int:
    if not args.url:
        return _fail("no WebSocket URL: pass --url wss://... or set TUNNEL_URL")
    problem = url_problem(args.url)
    if problem is not None:
        print(f"tunnel: --url {shown_url(args.url)!r}: {problem}", file=sys.stderr, flush=True)
        return 2
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
    # An expired token is the agent's to report (exit 1): it also times the expiry.
    settings = agent_module.AgentSettings(
        url=args.url,
        token=args.token.strip(),
        port=args.port,
        local_host=args.local_host,
        host_header=args.host_header,
        local_timeout=args.local_timeout,
        heartbeat_seconds=args.heartbeat,
        rotate_seconds=args.reconnect_after,
        backoff_initial=args.backoff_initial,
        backoff_max=args.backoff_max,
    )
    return asyncio.run(_run_agent(settings))


async def _run_agent(settings: agent_module.AgentSettings) -> int:
    agent = agent_module.Agent(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, agent.stop)
    try:
        return await agent.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def url_problem(url: str) -> str | None:
    """What makes ``url`` unusable as the WebSocket API's URL, or None. Checked before the
    token is added to it: the libraries' own errors quote the whole URL."""
    bad_port = "has a port that is not a number from 1 to 65535"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # an out-of-range or non-numeric port, a broken [IPv6] host
        return bad_port if "port" in str(exc).lower() else "is not a URL"
    if parts.scheme not in ("ws", "wss"):
        return "must be a ws:// or wss:// URL"
    if "@" in parts.netloc:
        return "must not carry a user name or password (the token goes in --token)"
    if not parts.hostname or re.search(r"[\s\x00-\x1f\x7f]", parts.hostname):
        return "has no host" if not parts.hostname else "has a host that is not a name"
    if port == 0:
        return bad_port
    if parts.fragment or url.endswith("#"):
        return "must not have a #fragment"
    return None


def shown_url(url: str) -> str:
    """``url`` as it may be printed: without its query, fragment or user name and password."""
    without_query = re.split(r"[?#]", url, maxsplit=1)[0]
    return re.sub(r"^([^/]*//)[^/]*@", r"\1…@", without_query)


def _fail(message: str) -> int:
    print(f"tunnel: error: {message}", file=sys.stderr, flush=True)
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


def _env_seconds(
    group: argparse._ArgumentGroup, flag: str, env: str, default: float, help_text: str
) -> None:
    # The environment variable lets tests (and wrappers) tune it without changing the command.
    group.add_argument(
        flag,
        type=_seconds,
        default=os.environ.get(env, str(default)),
        metavar="SECONDS",
        help=f"{help_text} (default {default:g}; env {env})",
    )


if __name__ == "__main__":
    sys.exit(main())
