"""``tunnel token``: issue, list and revoke agent tokens, with the operator's AWS credentials.

The signing key is the string value of the Secrets Manager secret
``http-tunnel-signing-key-<environment>`` (created by the keys stack). Whoever can read it can
issue tokens, so this runs with the operator's credentials, never the agent's. Each token is
recorded by its id in ``http-tunnel-tokens-<environment>`` (tunnel_shared.token_records):

- ``tunnel token --subdomain NAME`` issues and records one; its subject is ``--subject``, or a
  random id of its own;
- ``tunnel token list`` shows the live ones: id, subdomain, subject, expiry (never a token);
- ``tunnel token revoke TOKEN_OR_ID`` revokes one: the authorizer refuses it from then on, and
  its live connection, if any, is told why and closed (through the WebSocket API's
  ``@connections``: ``--connections-endpoint``, else ``$TUNNEL_CONNECTIONS_ENDPOINT``, else
  found from the apis stack). When that connection cannot be closed, the revocation stands
  and the command says so in one line, exit code 1: the agent keeps serving until it
  disconnects (it is refused when it reconnects).

The live connection is the one the subdomain's claim names while the claim carries the token's
id, read after the revocation. A connection that took the claim before the revocation may
still be in its ``$connect`` (@connections answers 410 until that returns), so a 410 is tried
again while the claim names it, for as long as a ``$connect`` can take; one that took it after
refuses itself (``$connect`` reads the token again once it holds the claim).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from secrets import token_hex
from typing import Any, TextIO

from tunnel_shared import names, protocol, token_records
from tunnel_shared.connections import claim_key
from tunnel_shared.limits import WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS
from tunnel_shared.tokens import SUBDOMAIN, TOKEN_ID, TokenError, issue, read_claims, verify

DURATION = re.compile(r"^\s*(\d+)\s*([dhms]?)\s*$")
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
TTL_UNITS = "30d, 12h, 90m or 3600s"
# Where `revoke` closes a live connection when --connections-endpoint is not given (the
# Makefile's local targets set it to the local gateway's).
CONNECTIONS_ENDPOINT_ENV = "TUNNEL_CONNECTIONS_ENDPOINT"
CONNECTIONS_ENDPOINT_HINT = (
    "Give the WebSocket API's @connections URL with --connections-endpoint or "
    f"{CONNECTIONS_ENDPOINT_ENV} (the local gateway's: http://127.0.0.1:<port>/dev)"
)
# How often `revoke` asks again about a connection still in its $connect.
RETRY_SECONDS = 0.2
# Connections that took the claim before the revocation, closed one after another, before
# `revoke` gives up: more means the claim keeps changing, which it cannot once revoked.
MAX_CLOSES = 10
# A token outliving a year is more likely a typo than a plan.
MAX_TTL_SECONDS = 366 * 86400


class CommandError(Exception):
    """A failure to report as one line, exit code 2."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    subject: str
    subdomain: str
    expires: int
    secret_id: str


def secret_id_for(environment: str) -> str:
    return names.resource_name("signing-key", environment)


def table_for(environment: str, key: str) -> str:
    return names.resource_name(key, environment)


def parse_ttl(text: str) -> int:
    """``30d``, ``12h``, ``90m``, ``3600s`` → seconds. A bare number is refused: ``--ttl 5``
    would be a token dead within seconds, or ``--ttl 30`` a month meant as 30 seconds."""
    match = DURATION.match(text)
    if not match or int(match.group(1)) <= 0:
        raise CommandError(f"--ttl {text!r} is not a positive duration; use e.g. {TTL_UNITS}")
    if not match.group(2):
        raise CommandError(f"--ttl {text!r} has no unit; use {TTL_UNITS}")
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if seconds > MAX_TTL_SECONDS:
        raise CommandError(f"--ttl {text!r} is longer than 366 days")
    return seconds


def issue_token(
    subdomain: str,
    ttl: str,
    subject: str | None,
    secret_id: str,
    session: Any = None,
    tokens_table: str | None = None,
) -> IssuedToken:
    """Read the signing key, issue the token. Raises CommandError with a one-line reason."""
    if not SUBDOMAIN.match(subdomain):
        raise CommandError(
            f"--subdomain {subdomain!r} is not a DNS label: 1-63 of a-z, 0-9 and '-', "
            "not starting or ending with '-'"
        )
    ttl_seconds = parse_ttl(ttl)
    # boto3 is imported here: `tunnel http` does not need it and starts faster without it.
    import boto3
    from botocore.config import Config
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=15)
    try:
        session = session or boto3.session.Session()
        secrets = session.client("secretsmanager", config=config)
        value = secrets.get_secret_value(SecretId=secret_id)
    except NoCredentialsError:
        raise CommandError(
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`"
        ) from None
    except NoRegionError:
        raise CommandError("no AWS region set: set AWS_REGION or AWS_DEFAULT_REGION") from None
    except EndpointConnectionError as exc:
        raise CommandError(
            f"cannot reach Secrets Manager at {exc.kwargs['endpoint_url']}"
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise CommandError(
                f"secret {secret_id} not found: is the environment's keys stack launched, "
                "in this account and region?"
            ) from None
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            raise CommandError(
                f"not allowed to read secret {secret_id} ({code}): use credentials that may "
                "call secretsmanager:GetSecretValue on it"
            ) from None
        raise CommandError(f"reading secret {secret_id} failed: {code or exc}") from None
    except BotoCoreError as exc:
        raise CommandError(f"reading secret {secret_id} failed: {exc}") from None
    key = value.get("SecretString")
    if not key:
        raise CommandError(f"secret {secret_id} has no string value to sign with")
    if subject is None:
        subject = f"anon-{token_hex(4)}"  # its own: tokens never share a holder
    try:
        token = issue(key, subject, subdomain, ttl_seconds)
    except TokenError as exc:
        raise CommandError(str(exc)) from None
    claims = verify(key, token)  # the claims as the authorizer will read them
    if tokens_table:
        table = session.resource("dynamodb", config=config).Table(tokens_table)
        _aws(lambda: token_records.record(table, claims), f"recording the token in {tokens_table}")
    return IssuedToken(token, claims.subject, claims.subdomain, claims.expires, secret_id)


def run(
    subdomain: str,
    ttl: str,
    subject: str | None,
    secret_id: str,
    out: TextIO | None = None,
    err: TextIO | None = None,
    tokens_table: str | None = None,
) -> int:
    """The command: summary on stderr, the token as the last line of stdout."""
    err = err or sys.stderr
    try:
        issued = issue_token(subdomain, ttl, subject, secret_id, tokens_table=tokens_table)
    except CommandError as exc:
        print(f"tunnel token: error: {exc}", file=err, flush=True)
        return 2
    expires = datetime.fromtimestamp(issued.expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"Token for subdomain {issued.subdomain!r}, subject {issued.subject!r}, "
        f"expires {expires} (signed with {issued.secret_id})",
        file=err,
        flush=True,
    )
    print(issued.token, file=out or sys.stdout, flush=True)
    return 0


def list_tokens(environment: str, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``tunnel token list``: the live tokens, one line each."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        table = _resource(_session(), environment, "tokens")
        live = _aws(lambda: token_records.live(table, int(time.time())), "listing tokens")
    except CommandError as exc:
        print(f"tunnel token list: error: {exc}", file=err, flush=True)
        return 2
    print(f"{'ID':<32}  {'SUBDOMAIN':<20}  {'SUBJECT':<24}  EXPIRES", file=out)
    for record in live:
        expires = datetime.fromtimestamp(record.expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(
            f"{record.token_id:<32}  {record.subdomain:<20}  {record.subject:<24}  {expires}",
            file=out,
        )
    out.flush()
    return 0


def revoke_token(
    token_or_id: str,
    environment: str,
    connections_endpoint: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    connecting_seconds: float = WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS,
) -> int:
    """``tunnel token revoke``: refuse the token from now on, and close its live connection.
    ``connecting_seconds``: how long a connection answering 410 may still be in its
    ``$connect`` (at most the integration timeout), after which it is gone."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        token_id = _token_id(token_or_id)
        session = _session()  # one per command: each would load botocore's models again
        tokens = _resource(session, environment, "tokens")
        now = int(time.time())
        revoked = _aws(lambda: token_records.revoke(tokens, token_id, now), "revoking")
        if revoked is None:
            raise CommandError(f"no token {token_id} was issued in {environment}")
    except CommandError as exc:
        print(f"tunnel token revoke: error: {exc}", file=err, flush=True)
        return 2
    print(
        f"Revoked token {token_id} (subdomain {revoked.subdomain!r}, "
        f"subject {revoked.subject!r}): new connections with it are refused.",
        file=out,
        flush=True,
    )
    try:
        closed, gone = _close_live_connections(
            session, revoked, environment, connections_endpoint, connecting_seconds
        )
    except CommandError as exc:
        # The record is revoked either way; what is left running is the live connection.
        print(f"tunnel token revoke: the token is revoked, but {exc}", file=err, flush=True)
        return 1
    for connection_id in closed:
        print(f"Closed its live connection {connection_id}.", file=out, flush=True)
    if gone:
        print(
            f"Its connection {gone} is gone (410 for longer than a $connect can take).",
            file=out,
            flush=True,
        )
    return 0


def _token_id(token_or_id: str) -> str:
    text = token_or_id.strip()
    if TOKEN_ID.match(text):
        return text
    try:
        return read_claims(text).token_id
    except TokenError:
        raise CommandError("give a token or a token id (32 hex digits)") from None


def _close_live_connections(
    session: Any,
    revoked: token_records.TokenRecord,
    environment: str,
    endpoint: str | None,
    connecting_seconds: float,
) -> tuple[list[str], str | None]:
    """Close, one by one, the connections the subdomain's claim names while it carries the
    token (module docstring): those closed, and the one found gone, if any. Raises
    CommandError, saying what could not be done and why, to follow "the token is revoked, but".
    """
    connections = _resource(session, environment, "connections")
    closed: list[str] = []
    connecting_since: dict[str, float] = {}
    management: Any = None
    while True:
        try:
            claim = _aws(
                lambda: connections.get_item(Key=claim_key(revoked.subdomain), ConsistentRead=True),
                "reading the subdomain's claim",
            ).get("Item")
        except CommandError as exc:
            raise CommandError(f"whether it has a live connection is unknown: {exc}") from None
        if not claim or claim.get("tokenId") != revoked.token_id:
            return closed, None
        owner = str(claim["owner"])
        if owner in closed:  # its $disconnect has not released the claim yet
            return closed, None
        if len(closed) >= MAX_CLOSES:
            raise CommandError(
                f"its subdomain's claim still names new connections after {MAX_CLOSES} were "
                f"closed (the last, {owner}, is live); run the command again"
            )
        management = management or _management(session, environment, endpoint, owner)
        if _close(management, owner, endpoint):
            closed.append(owner)
            continue  # the claim may name another that connected before the revocation
        # 410: still in its $connect, or gone without a $disconnect.
        first = connecting_since.setdefault(owner, time.monotonic())
        if time.monotonic() - first > connecting_seconds:
            return closed, owner
        time.sleep(RETRY_SECONDS)


def _management(session: Any, environment: str, endpoint: str | None, owner: str) -> Any:
    from botocore.config import Config

    try:
        endpoint = endpoint or _connections_endpoint(session, environment)
    except CommandError as exc:
        raise CommandError(
            f"its live connection {owner} could not be closed: {exc}; {CONNECTIONS_ENDPOINT_HINT}"
        ) from None
    return session.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=15),
    )


def _close(management: Any, owner: str, endpoint: str | None) -> bool:
    """Tell ``owner`` why and close it: True once done, False if @connections answered 410
    before it was told. Raises CommandError when it cannot be done."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    endpoint = endpoint or management.meta.endpoint_url
    cannot = f"its live connection {owner} could not be closed"
    told = False
    try:
        management.post_to_connection(
            ConnectionId=owner,
            Data=protocol.closed_message("the token was revoked; ask for a new one").encode(),
        )
        told = True
        management.delete_connection(ConnectionId=owner)
    except management.exceptions.GoneException:
        # Once told, the agent closes the connection itself, often before the delete arrives.
        return told
    except EndpointConnectionError:
        raise CommandError(
            f"{cannot}: cannot reach {endpoint}; it serves until it disconnects. "
            f"{CONNECTIONS_ENDPOINT_HINT}"
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "") or "error"
        raise CommandError(
            f"{cannot}: {endpoint} answered {code}; it serves until it disconnects"
        ) from None
    except Exception as exc:  # noqa: BLE001 - one line, whatever botocore raised
        raise CommandError(
            f"{cannot} ({type(exc).__name__}); it serves until it disconnects"
        ) from None
    return True


def _connections_endpoint(session: Any, environment: str) -> str:
    """The @connections endpoint of the environment's WebSocket API, from the apis stack."""
    stack = names.stack_name(environment, "apis")
    described = _aws(
        lambda: session.client("cloudformation").describe_stacks(StackName=stack),
        f"reading stack {stack}",
    )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}
    host = names.execute_api_host(outputs["WebSocketApiId"], session.region_name)
    return f"https://{host}/{environment}"


def _session() -> Any:
    import boto3

    return boto3.session.Session()


def _resource(session: Any, environment: str, key: str) -> Any:
    return session.resource("dynamodb").Table(table_for(environment, key))


def _aws(call: Any, doing: str) -> Any:
    """``call()``, its AWS failures as one-line CommandErrors."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        return call()
    except NoCredentialsError:
        raise CommandError("no AWS credentials found: set AWS_PROFILE, or log in") from None
    except NoRegionError:
        raise CommandError("no AWS region set: set AWS_REGION or AWS_DEFAULT_REGION") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise CommandError(f"{doing} failed: {code or exc}") from None
    except BotoCoreError as exc:
        raise CommandError(f"{doing} failed: {exc}") from None
