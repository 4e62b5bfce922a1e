"""The AWS resources the functions use, each created once per execution environment.

Created on first use, not at import, so a handler module imports without its environment.
Creation is serialised: boto3's default session is not safe to create clients from in several
threads at once, and the local gateway runs handlers concurrently in one process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import boto3

T = TypeVar("T")
_lock = threading.Lock()
_created: dict[str, Any] = {}


def _once(name: str, create: Callable[[], T]) -> T:
    if name not in _created:
        with _lock:
            if name not in _created:
                _created[name] = create()
    return _created[name]


def connections_table() -> Any:
    return _once(
        "connections", lambda: boto3.resource("dynamodb").Table(os.environ["CONNECTIONS_TABLE"])
    )


def reply_key() -> bytes:
    """The key of the reply MAC (tunnel_shared.reply), read once per container: only forwarding
    and response may read its secret."""
    return _once(
        "reply-key",
        lambda: (
            boto3.client("secretsmanager")
            .get_secret_value(SecretId=os.environ["REPLY_KEY_SECRET_ARN"])["SecretString"]
            .encode()
        ),
    )


def answers_connections() -> Any:
    """The @connections management API of the answers WebSocket API (forwarding's sockets)."""
    return _once(
        "answers",
        lambda: boto3.client(
            "apigatewaymanagementapi", endpoint_url=os.environ["ANSWERS_ENDPOINT"]
        ),
    )


def answers_client() -> Any:
    """This container's connection to the answers API (tunnel_shared.answers), kept while it is
    warm; it connects on first use."""
    from tunnel_shared.answers import AnswersClient, sigv4_signer

    return _once("answers-client", lambda: AnswersClient(os.environ["ANSWERS_URL"], sigv4_signer()))


def agent_connections() -> Any:
    """The @connections management API of the agents' WebSocket API."""
    return _once(
        "agents",
        lambda: boto3.client(
            "apigatewaymanagementapi", endpoint_url=os.environ["CONNECTIONS_ENDPOINT"]
        ),
    )


# Where botocore reads a configured endpoint from: never set in Lambda; the local stack sets them
# to the emulator's address.
_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def s3_client() -> Any:
    """S3 with Signature Version 4, which presigned URLs need (and the only one S3 still
    accepts from new buckets everywhere), on the bucket's regional virtual host.

    botocore's default presigns on the global host ``<bucket>.s3.amazonaws.com`` while signing
    for the region: outside us-east-1 S3 answers a bucket under a day old there with a 307
    whose target then fails the signature, and in a region launched after 20 March 2019 with
    400 ``IllegalLocationConstraintException`` (aws_fidelity.rules.check_presigned_endpoint).
    ``addressing_style="virtual"`` names ``<bucket>.s3.<region>.amazonaws.com`` instead. A
    configured endpoint (the local stack) keeps botocore's own choice, the path under that
    address: a bucket's subdomain of a name like ``localhost`` would not resolve.
    """
    return _once("s3", _create_s3_client)


def _create_s3_client() -> Any:
    from botocore.config import Config

    local = any(os.environ.get(name) for name in _ENDPOINT_VARIABLES)
    style = "auto" if local else "virtual"
    return boto3.client(
        "s3", config=Config(signature_version="s3v4", s3={"addressing_style": style})
    )


def tokens_table() -> Any:
    return _once("tokens", lambda: boto3.resource("dynamodb").Table(os.environ["TOKENS_TABLE"]))
