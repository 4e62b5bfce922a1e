"""`tunnel token` against the local AWS emulator, as an operator runs it."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import boto3
import pytest
from tunnel_shared.tokens import read_claims, verify

from emulator import process
from tunnel_cli.token_command import CommandError, parse_ttl, revoke_token

TUNNEL = str(Path(sys.executable).parent / "tunnel")
KEY = "k" * 64
OTHER_KEY = "o" * 64


@pytest.fixture(scope="module")
def aws_env():
    """An emulator holding the dev signing secret and another one; the env to reach it."""
    handle = process.start()
    try:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            **process.client_environment(handle.url),
        }
        secrets = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ).client("secretsmanager", endpoint_url=handle.url)
        secrets.create_secret(Name="http-tunnel-signing-key-dev", SecretString=KEY)
        secrets.create_secret(Name="custom/signing", SecretString=OTHER_KEY)
        for table, key in (("tokens", "tokenId"), ("connections", "connectionId")):
            boto3.client(
                "dynamodb",
                endpoint_url=handle.url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            ).create_table(
                TableName=f"http-tunnel-{table}-dev",
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        yield env
    finally:
        process.stop(handle)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` as ``values`` for an in-process command, then as it was."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def tunnel_token(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TUNNEL, "token", *args], env=env, capture_output=True, text=True, timeout=30
    )


def test_issues_a_token_the_authorizer_accepts(aws_env):
    result = tunnel_token("--subdomain", "demo", "--ttl", "12h", env=aws_env)
    assert result.returncode == 0, result.stderr
    token = result.stdout.splitlines()[-1]
    claims = verify(KEY, token)
    assert claims.subdomain == "demo"
    assert abs(claims.expires - (time.time() + 12 * 3600)) < 60
    assert claims.subject.startswith("anon-")  # a random id of its own, not the operator
    summary = result.stderr.strip().splitlines()
    assert len(summary) == 1 and "'demo'" in summary[0]
    assert token not in result.stderr


def test_secret_id_and_subject_can_be_given(aws_env):
    args = ["--subdomain", "api-2", "--secret-id", "custom/signing", "--subject", "alice"]
    result = tunnel_token(*args, "--ttl", "90m", env=aws_env)
    assert result.returncode == 0, result.stderr
    claims = verify(OTHER_KEY, result.stdout.splitlines()[-1])
    assert (claims.subject, claims.subdomain) == ("alice", "api-2")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--subdomain", "demo", "--environment", "nope"], "signing-key-nope not found"),
        (["--subdomain", "demo", "--ttl", "3x"], "--ttl '3x' is not a positive duration"),
        (["--subdomain", "Not_A_Label"], "is not a DNS label"),
    ],
)
def test_errors_are_one_line_and_exit_2(aws_env, args, expected):
    result = tunnel_token(*args, env=aws_env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_no_credentials_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL="http://127.0.0.1:1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    result = tunnel_token("--subdomain", "demo", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("tunnel token: error: no AWS credentials found")
    assert result.stderr.count("\n") == 1


TTLS = [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("3600s", 3600), (" 2h ", 7200)]


@pytest.mark.parametrize(("text", "seconds"), TTLS)
def test_ttl_units(text, seconds):
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0d", "-1h", "1.5h", "1w", "h", "400d"])
def test_bad_ttls(text):
    with pytest.raises(CommandError, match="--ttl"):
        parse_ttl(text)


@pytest.mark.parametrize("text", ["5", "3600", " 30 "])
def test_a_ttl_without_a_unit_is_refused_naming_the_units(text):
    # `--ttl 5` used to mean five seconds: a token dead before the agent starts.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1"  # refused before any AWS call, or nowhere
    result = tunnel_token("--subdomain", "demo", "--ttl", text, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"tunnel token: error: --ttl {text!r} has no unit; use 30d, 12h, 90m or 3600s\n"
    )


def test_each_token_is_recorded_and_listed_without_the_token(aws_env):
    first = tunnel_token("--subdomain", "listed", "--subject", "ci-runner", env=aws_env)
    second = tunnel_token("--subdomain", "listed", env=aws_env)
    tokens = [result.stdout.splitlines()[-1] for result in (first, second)]
    ids = [read_claims(token).token_id for token in tokens]
    assert ids[0] != ids[1]
    assert read_claims(tokens[1]).subject.startswith("anon-")
    listed = tunnel_token("list", env=aws_env)
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if "listed" in line]
    assert {row.split()[0] for row in rows} >= set(ids)
    assert any("ci-runner" in row for row in rows)
    assert not any(token in listed.stdout for token in tokens)


@pytest.mark.parametrize("by", ["id", "token"])
def test_a_revoked_token_leaves_the_list(aws_env, by):
    issued = tunnel_token("--subdomain", f"revoke-by-{by}", env=aws_env).stdout.splitlines()[-1]
    token_id = read_claims(issued).token_id
    revoked = tunnel_token("revoke", token_id if by == "id" else issued, env=aws_env)
    assert revoked.returncode == 0, revoked.stderr
    assert f"Revoked token {token_id}" in revoked.stdout
    assert token_id not in tunnel_token("list", env=aws_env).stdout


def test_revoking_a_token_never_issued_is_a_one_line_error(aws_env):
    revoked = tunnel_token("revoke", "0" * 32, env=aws_env)
    assert revoked.returncode == 2
    assert revoked.stderr.count("\n") == 1 and "no token" in revoked.stderr


def test_revoke_when_the_live_connection_cannot_be_closed_is_one_line_exit_1(aws_env):
    # A live claim for the token, and @connections where nothing listens.
    issued = tunnel_token("--subdomain", "unclosable", env=aws_env).stdout.splitlines()[-1]
    token_id = read_claims(issued).token_id
    boto3.client(
        "dynamodb",
        endpoint_url=aws_env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).put_item(
        TableName="http-tunnel-connections-dev",
        Item={
            "connectionId": {"S": "claim#unclosable"},
            "owner": {"S": "conn-live="},
            "tokenId": {"S": token_id},
        },
    )
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}/dev"
    env = {**aws_env, "TUNNEL_CONNECTIONS_ENDPOINT": endpoint}
    revoked = tunnel_token("revoke", token_id, env=env)
    assert revoked.returncode == 1
    assert f"Revoked token {token_id}" in revoked.stdout
    assert revoked.stderr.count("\n") == 1, revoked.stderr
    assert revoked.stderr.startswith(
        "tunnel token revoke: the token is revoked, but its live connection conn-live= could "
        f"not be closed: cannot reach {endpoint}"
    ), revoked.stderr
    assert "Traceback" not in revoked.stderr and issued not in revoked.stderr
    assert token_id not in tunnel_token("list", env=aws_env).stdout  # the revocation holds


class ConnectingThenLive:
    """@connections for one connection still in its ``$connect`` (API Gateway answers 410)
    for its first ``connecting`` requests, then live; records what it was told and closed."""

    def __init__(self, connecting: int) -> None:
        self.connecting = connecting
        self.seen: list[str] = []
        self.told: list[bytes] = []
        self.closed: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                connection_id = unquote(self.path.rsplit("/", 1)[-1])
                data = self.rfile.read(int(self.headers.get("content-length", 0)))
                endpoint.seen.append(method)
                if len(endpoint.seen) <= endpoint.connecting or connection_id in endpoint.closed:
                    body = b'{"message":"Gone"}'
                    self.send_response(410)
                    self.send_header("x-amzn-ErrorType", "GoneException")
                else:
                    body = b""
                    if method == "DELETE":
                        endpoint.closed.append(connection_id)
                    else:
                        endpoint.told.append(data)
                    self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self._answer("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._answer("DELETE")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dev"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def put_claim(aws_env: dict[str, str], subdomain: str, owner: str, token_id: str) -> None:
    boto3.client(
        "dynamodb",
        endpoint_url=aws_env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).put_item(
        TableName="http-tunnel-connections-dev",
        Item={
            "connectionId": {"S": f"claim#{subdomain}"},
            "owner": {"S": owner},
            "tokenId": {"S": token_id},
        },
    )


def test_revoke_closes_a_connection_still_in_its_connect(aws_env):
    # An agent reconnecting as the revocation runs: the claim names a connection whose
    # $connect has not returned yet, so @connections answers 410 for a while. That is not
    # "none live": the revoke tries again until it is closed.
    issued = tunnel_token("--subdomain", "connecting", env=aws_env).stdout.splitlines()[-1]
    token_id = read_claims(issued).token_id
    put_claim(aws_env, "connecting", "conn-connecting=", token_id)
    endpoint = ConnectingThenLive(connecting=3)
    try:
        env = {**aws_env, "TUNNEL_CONNECTIONS_ENDPOINT": endpoint.url}
        revoked = tunnel_token("revoke", token_id, env=env)
    finally:
        endpoint.server.shutdown()
    assert revoked.returncode == 0, revoked.stderr
    assert endpoint.closed == ["conn-connecting="]
    assert [json.loads(data)["type"] for data in endpoint.told] == ["closed"]
    assert "Closed its live connection conn-connecting=." in revoked.stdout


def test_revoke_asks_again_while_a_connect_can_last_then_calls_the_connection_gone(aws_env):
    issued = tunnel_token("--subdomain", "never-up", env=aws_env).stdout.splitlines()[-1]
    token_id = read_claims(issued).token_id
    put_claim(aws_env, "never-up", "conn-never-up=", token_id)
    endpoint = ConnectingThenLive(connecting=10**6)
    out, err = io.StringIO(), io.StringIO()
    try:
        with environment(aws_env):
            code = revoke_token(token_id, "dev", endpoint.url, out, err, connecting_seconds=0.5)
    finally:
        endpoint.server.shutdown()
    assert len(endpoint.seen) > 1, (out.getvalue(), err.getvalue())  # it tried again
    # Answering 410 for longer than a $connect can take: gone, without a $disconnect. The
    # claim it left cannot route anything (forwarding gets the same 410).
    assert code == 0, err.getvalue()
    assert "conn-never-up= is gone" in out.getvalue()
