"""Recording the AWS calls a function makes, as the (IAM action, resource ARN) pairs they need.

botocore's ``before-parameter-build`` event sees every API call with its parameters; the pair
follows from the service, the operation and the resource the parameters name. The tests
compare what each function used with what its role grants in the rendered template, both ways:
nothing unused granted and nothing used missing.
"""

from __future__ import annotations

import json
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3

PARTITION = "aws"

# The function whose code is running; the tests set it around each invocation.
current_function: ContextVar[str | None] = ContextVar("current_function", default=None)


@dataclass(frozen=True)
class Call:
    function: str
    action: str
    resource: str


@dataclass(frozen=True)
class Counted:
    """One call as made, for counting (the cost model's per-request counts): the set of calls
    above keeps each pair once."""

    function: str
    operation: str  # "dynamodb:GetItem", "execute-api:PostToConnection"
    table: str = ""
    consistent: bool = False
    answers: bool = False  # an @connections call to the answers API


@dataclass(frozen=True)
class Account:
    """Where the calls go: the @connections resources are named by the API whose endpoint a
    call went to, the agents' WebSocket API unless its URL starts with ``answers_endpoint``."""

    websocket_api_id: str
    stage: str
    region: str = "us-east-1"
    account_id: str = "123456789012"
    answers_api_id: str = ""
    answers_endpoint: str = ""


class CallRecorder:
    """Collects calls in memory and, if given a path, appends them there as JSON lines."""

    def __init__(self, account: Account, path: Path | None = None) -> None:
        self.account = account
        self.path = path
        self.calls: set[Call] = set()
        self.made: list[Counted] = []  # every call, in order
        self._lock = threading.Lock()

    def install(self, session: Any = None) -> None:
        """Hook every client of the session (boto3's default session if none is given)."""
        if session is None:
            if boto3.DEFAULT_SESSION is None:
                boto3.setup_default_session()
            session = boto3.DEFAULT_SESSION
        session.events.register("before-parameter-build", self._before_call)
        # @connections calls are told apart by their endpoint, known once the URL is built.
        session.events.register("before-call.apigatewaymanagementapi", self._before_send)

    def _before_call(self, model: Any, params: dict[str, Any], **kwargs: Any) -> None:
        service = model.service_model.service_name
        function = current_function.get()
        if function is not None and service != "apigatewaymanagementapi":
            self._add(Call(function, *self.pair(service, model.name, params)))
            table = str(params.get("TableName", ""))
            consistent = bool(params.get("ConsistentRead"))
            with self._lock:
                self.made.append(Counted(function, f"{service}:{model.name}", table, consistent))

    def _before_send(self, model: Any, params: dict[str, Any], **kwargs: Any) -> None:
        function = current_function.get()
        if function is not None:
            url = str(params["url"])
            self._add(Call(function, *self.connections_pair(model.name, url)))
            endpoint = self.account.answers_endpoint
            with self._lock:
                self.made.append(
                    Counted(
                        function,
                        f"execute-api:{model.name}",
                        answers=bool(endpoint) and url.startswith(endpoint),
                    )
                )

    def _add(self, call: Call) -> None:
        with self._lock:
            if call in self.calls:
                return
            self.calls.add(call)
            if self.path is not None:
                with self.path.open("a") as out:
                    out.write(json.dumps(call.__dict__) + "\n")

    def pair(self, service: str, operation: str, params: dict[str, Any]) -> tuple[str, str]:
        region, account = self.account.region, self.account.account_id
        if service == "dynamodb":
            arn = f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{params['TableName']}"
            if params.get("IndexName"):
                arn += f"/index/{params['IndexName']}"
            return f"dynamodb:{operation}", arn
        if service == "s3":
            # Presigned URLs too: botocore emits this event when it signs one, and the URL's
            # request is authorised against the signer's role.
            return f"s3:{operation}", f"arn:{PARTITION}:s3:::{params['Bucket']}/{params['Key']}"
        if service == "secretsmanager":
            return f"secretsmanager:{operation}", str(params["SecretId"])
        return f"{service}:{operation}", "*"

    def connections_pair(self, operation: str, url: str) -> tuple[str, str]:
        """An @connections call to ``url``: ManageConnections on that API's connection."""
        account = self.account
        method = {"PostToConnection": "POST", "GetConnection": "GET"}.get(operation, "DELETE")
        answers = bool(account.answers_endpoint) and url.startswith(account.answers_endpoint)
        api = account.answers_api_id if answers else account.websocket_api_id
        connection = unquote(url.rsplit("/@connections/", 1)[1])
        return (
            "execute-api:ManageConnections",
            f"arn:{PARTITION}:execute-api:{account.region}:{account.account_id}:{api}/"
            f"{account.stage}/{method}/@connections/{connection}",
        )

    @staticmethod
    def load(path: Path) -> set[Call]:
        if not path.exists():
            return set()
        return {Call(**json.loads(line)) for line in path.read_text().splitlines() if line}
