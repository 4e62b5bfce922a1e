"""The tunnel's functions and, in one place, what each one touches.

Each function's role, its environment variables and its stack parameters are derived from its
grants here; nothing else grants a function anything. To give a function new access, add a grant
and run ``make snapshots``: the role diff shows in review, and the tests check that the code uses
exactly what is granted.
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import dynamodb, execute_api, s3, secretsmanager
from tunnel_shared import limits

from tunnel_infra.access import (
    Grant,
    ObjectPrefix,
    Secret,
    Table,
    Target,
    WebSocketConnections,
    WebSocketRoute,
)

CONNECTIONS = Table("connections", hash_key="connectionId")
# Every issued token by its id: `tunnel token` records, lists and revokes them.
TOKENS = Table("tokens", hash_key="tokenId")
SIGNING_KEY = Secret("signing-key")
# Binds an agent's answer to the request and the reply address it was given (an HMAC): read by
# forwarding and response only, never handed out.
REPLY_KEY = Secret("reply-key")
# The agents' connections, by @connections method.
POST_TO_AGENTS = WebSocketConnections("POST")
DESCRIBE_AGENTS = WebSocketConnections("GET")
CLOSE_AGENTS = WebSocketConnections("DELETE")
# The internal answers API (IAM on $connect): forwarding connects to it and learns its own
# connection id; response posts each answer to the connection the request named.
CONNECT_TO_ANSWERS = WebSocketRoute("$connect")
POST_TO_ANSWERS = WebSocketConnections(
    "POST", parameter="AnswersApiId", environment_variable="ANSWERS_ENDPOINT"
)
# Bodies too large for one WebSocket message wait here while they cross (functions/forwarding).
BODIES = ObjectPrefix("bodies", prefix="spill/")


@dataclass(frozen=True)
class Function:
    """A Lambda function whose code is ``functions/<name>/handler.py``."""

    name: str
    description: str
    grants: tuple[Grant, ...]
    timeout_seconds: int = 10
    # Given PUBLIC_URL_FORMAT, where the public reaches a subdomain: it names or parses those URLs.
    public_url: bool = False
    # Given IN_FLIGHT_PER_TUNNEL (throttling.tunnel_in_flight): it keeps each tunnel's share.
    fair_share: bool = False
    # Where a custom domain is set, the REST API edge streams from it: it then runs our own
    # runtime loop (functions/<name>/exec_wrapper) and may run as long as a stream.
    streams: bool = False

    @property
    def title(self) -> str:  # "Forwarding"
        return self.name.capitalize()

    @property
    def targets(self) -> list[Target]:
        """The other stacks' resources it touches, each once, in a stable order."""
        seen: dict[tuple[str, str], Target] = {}
        for grant in self.grants:
            # One API can reach a function twice, as a URL and as an endpoint: by variable.
            key = (grant.target.parameter, grant.target.environment_variable)
            seen.setdefault(key, grant.target)
        return [seen[key] for key in sorted(seen)]


FUNCTIONS: tuple[Function, ...] = (
    Function(
        "authorizer",
        "Verifies the agent's signed token on $connect",
        # GetItem: the token's record, which says whether it was revoked.
        grants=(
            SIGNING_KEY.grant(secretsmanager.GetSecretValue),
            TOKENS.grant(dynamodb.GetItem),
        ),
    ),
    Function(
        "connect",
        "Registers an agent's connection and claims its subdomain",
        grants=(
            # GetItem: the claim's owner when it is taken; UpdateItem: a replaced connection
            # marked as draining; DeleteItem: a connection gone, or a claim given back.
            CONNECTIONS.grant(
                dynamodb.PutItem, dynamodb.GetItem, dynamodb.UpdateItem, dynamodb.DeleteItem
            ),
            # GetItem: the token read again once the claim is taken (revoked meanwhile?).
            TOKENS.grant(dynamodb.GetItem),
            # GET: is the claim's owner still connected? POST: tell a replaced one. DELETE:
            # close the oldest of three connections (at most two live per token).
            DESCRIBE_AGENTS.grant(execute_api.ManageConnections),
            POST_TO_AGENTS.grant(execute_api.ManageConnections),
            CLOSE_AGENTS.grant(execute_api.ManageConnections),
        ),
    ),
    Function(
        "disconnect",
        "Removes an agent's connection and releases its subdomain",
        grants=(CONNECTIONS.grant(dynamodb.DeleteItem),),
    ),
    Function(
        "forwarding",
        "Forwards a public HTTP request to the agent and waits for its response",
        grants=(
            POST_TO_AGENTS.grant(execute_api.ManageConnections),
            # Invoke on the answers API's $connect: the container's own socket, SigV4-signed,
            # on which the answers arrive; GetSecretValue: the reply key, to sign replyTo.
            CONNECT_TO_ANSWERS.grant(execute_api.Invoke),
            REPLY_KEY.grant(secretsmanager.GetSecretValue),
            # DELETE: an agent whose token expired or was revoked is told, then closed.
            CLOSE_AGENTS.grant(execute_api.ManageConnections),
            # GET: is a request's connection gone (410), now that the claim names another?
            DESCRIBE_AGENTS.grant(execute_api.ManageConnections),
            # GetItem: the claim's token record, which says whether it was revoked.
            TOKENS.grant(dynamodb.GetItem),
            # GetItem: the subdomain's claim names its connection; UpdateItem: the tunnel's
            # in-flight leases (tunnel_shared.capacity); DeleteItem: an agent that is gone
            # (410) is cleaned up at once.
            CONNECTIONS.grant(dynamodb.GetItem, dynamodb.UpdateItem, dynamodb.DeleteItem),
            # PutObject: a large request body, and the agent's presigned PUT of a large
            # response; GetObject: the agent's presigned GET, and reading that response;
            # DeleteObject: both, once the request is over.
            BODIES.grant(s3.PutObject, s3.GetObject, s3.DeleteObject),
        ),
        # The HTTP API's own 30 s: above its 29 s route timeout, so the route gives up first.
        timeout_seconds=limits.HTTP_API_TIMEOUT_SECONDS,
        public_url=True,  # the subdomain is in the Host, or first in the path
        fair_share=True,
        streams=True,
    ),
    Function(
        "response",
        "Registers a ready agent and posts its answers to the forwarding that waits for them",
        grants=(
            # POST: an answer to the forwarding connection a request named, and `you` to a
            # whoami; GetSecretValue: the reply key, to check a response's replyMac.
            POST_TO_ANSWERS.grant(execute_api.ManageConnections),
            REPLY_KEY.grant(secretsmanager.GetSecretValue),
            # UpdateItem: the connection's allowance for messages that answer no request
            # (its subdomain comes back with it, for ready -> registered).
            CONNECTIONS.grant(dynamodb.UpdateItem),
            POST_TO_AGENTS.grant(execute_api.ManageConnections),
            # DELETE: close an agent over its allowance, or a replaced one past its drain.
            CLOSE_AGENTS.grant(execute_api.ManageConnections),
        ),
        public_url=True,  # tells the agent its URL
    ),
)

TABLES: tuple[Table, ...] = (CONNECTIONS, TOKENS)


def wired_targets(functions: tuple[Function, ...] = FUNCTIONS) -> list[Target]:
    """Every other stack's resource that some function touches, once each, in a stable order."""
    seen: dict[str, Target] = {}
    for declared in functions:
        for target in declared.targets:
            seen.setdefault(target.parameter, target)
    return [seen[parameter] for parameter in sorted(seen)]
