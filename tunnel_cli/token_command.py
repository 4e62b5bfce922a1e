"""``tunnel token``: issue an agent token with the operator's AWS credentials.

The signing key is the string value of the Secrets Manager secret
``http-tunnel-signing-key-<environment>`` (created by the keys stack). Whoever can read it can
issue tokens, so this runs with the operator's credentials, never the agent's.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from tunnel_shared.tokens import SUBDOMAIN, TokenError, issue, verify

DURATION = re.compile(r"^\s*(\d+)\s*([dhms]?)\s*$")
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}
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
    return f"http-tunnel-signing-key-{environment}"


def parse_ttl(text: str) -> int:
    """``30d``, ``12h``, ``90m``, ``3600s`` (or ``3600``) → seconds."""
    match = DURATION.match(text)
    if not match or int(match.group(1)) <= 0:
        raise CommandError(
            f"--ttl {text!r} is not a positive duration; use e.g. 30d, 12h, 90m or 3600s"
        )
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if seconds > MAX_TTL_SECONDS:
        raise CommandError(f"--ttl {text!r} is longer than 366 days")
    return seconds


def issue_token(
    subdomain: str, ttl: str, subject: str | None, secret_id: str, session: Any = None
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
        subject = _caller(session, config)
    try:
        token = issue(key, subject, subdomain, ttl_seconds)
    except TokenError as exc:
        raise CommandError(str(exc)) from None
    claims = verify(key, token)  # the claims as the authorizer will read them
    return IssuedToken(token, claims.subject, claims.subdomain, claims.expires, secret_id)


def run(
    subdomain: str,
    ttl: str,
    subject: str | None,
    secret_id: str,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The command: summary on stderr, the token as the last line of stdout."""
    err = err or sys.stderr
    try:
        issued = issue_token(subdomain, ttl, subject, secret_id)
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


def _caller(session: Any, config: Any) -> str:
    """Who is issuing: the caller's AWS identity, else the local user name."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(session.client("sts", config=config).get_caller_identity()["Arn"])
    except (BotoCoreError, ClientError, KeyError):
        pass
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no user name at all (some containers)
        return "unknown"
