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


def pending_table() -> Any:
    return _once(
        "pending",
        lambda: boto3.resource("dynamodb").Table(os.environ["PENDING_REQUESTS_TABLE"]),
    )


def agent_connections() -> Any:
    """The @connections management API of the agents' WebSocket API."""
    return _once(
        "agents",
        lambda: boto3.client(
            "apigatewaymanagementapi", endpoint_url=os.environ["CONNECTIONS_ENDPOINT"]
        ),
    )


def s3_client() -> Any:
    """S3 with Signature Version 4, which presigned URLs need (and the only one S3 still
    accepts from new buckets everywhere)."""
    from botocore.config import Config

    return _once("s3", lambda: boto3.client("s3", config=Config(signature_version="s3v4")))


def tokens_table() -> Any:
    return _once("tokens", lambda: boto3.resource("dynamodb").Table(os.environ["TOKENS_TABLE"]))
