"""The functions run in-process against the emulator, with the dev tables and signing secret
deployed from the rendered templates, and an @connections endpoint that records posts.

The answers API runs for real on loopback (``AnswersApi``): a WebSocket server whose upgrade
must carry a SigV4 signature the emulator's credentials verify (its $connect is AWS_IAM),
whose ``whoami`` invokes the response function, and whose @connections endpoint delivers a
post to the socket (410 for a connection that is closed or unknown). forwarding's module-level
connection to it lives across invocations, as in a warm container.

Every AWS call a function makes is recorded (``tests.aws_calls``) for the
least-privilege test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from aws_fidelity.rules import check_request_signature
from emulator import process
from tests.aws_calls import Account, Call, CallRecorder, current_function
from tests.conftest import PROJECT

API_ID = "testapi"
ANSWERS_API_ID = "answersapi"
STAGE = "dev"


class AnswersApi:
    """The internal answers API on loopback (module docstring)."""

    def __init__(self) -> None:
        self.sockets: dict[str, ServerConnection] = {}
        self.upgrades: list[int] = []  # the status each upgrade got
        self.refused: set[str] = set()  # connection ids whose next post answers 410
        self.delivered: list[tuple[str, bytes]] = []  # posts that reached a socket
        self.invoke: Callable[[str, Any], Any] | None = None
        self.recorder: CallRecorder | None = None
        self._count = 0
        self._lock = threading.Lock()
        self.url = self.endpoint = ""

    def start(self) -> list[Any]:
        server = serve(
            self._handler,
            "127.0.0.1",
            0,
            process_request=self._check_signature,
            ping_interval=None,
            compression=None,
        )
        port = server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/{STAGE}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api = self

        class Connections(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                connection_id = unquote(self.path.rsplit("/", 1)[-1])
                data = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = api.deliver(connection_id, data)
                body = b"" if status == 200 else json.dumps({"message": "Gone"}).encode()
                self.send_response(status)
                if status == 410:
                    self.send_header("x-amzn-ErrorType", "GoneException")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        management = ThreadingHTTPServer(("127.0.0.1", 0), Connections)
        self.endpoint = f"http://127.0.0.1:{management.server_address[1]}/{STAGE}"
        threading.Thread(target=management.serve_forever, daemon=True).start()
        return [server, management]

    def _check_signature(self, connection: ServerConnection, request: Any) -> Any:
        """$connect with AWS_IAM: the upgrade must be signed by a key the emulator knows."""
        try:
            check_request_signature("GET", request.path, "", request.headers.raw_items(), b"")
        except Exception:  # noqa: BLE001 - any refusal is API Gateway's 403
            self.upgrades.append(403)
            return connection.respond(403, '{"message":"Forbidden"}')
        self.upgrades.append(101)
        if self.recorder is not None:  # the grant this upgrade used (only forwarding connects)
            self.recorder.calls.add(
                Call(
                    "forwarding",
                    "execute-api:Invoke",
                    f"arn:aws:execute-api:us-east-1:123456789012:{ANSWERS_API_ID}/{STAGE}/$connect",
                )
            )
        return None

    def _handler(self, websocket: ServerConnection) -> None:
        with self._lock:
            self._count += 1
            connection_id = f"answers{self._count:04d}="
            self.sockets[connection_id] = websocket
        try:
            for message in websocket:
                if json.loads(message).get("action") != "whoami" or self.invoke is None:
                    continue  # API Gateway's own error, which the client ignores
                event = {
                    "requestContext": {
                        "routeKey": "whoami",
                        "eventType": "MESSAGE",
                        "connectionId": connection_id,
                        "apiId": ANSWERS_API_ID,
                        "stage": STAGE,
                    },
                    "body": message,
                    "isBase64Encoded": False,
                }
                self.invoke("response", event)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self.sockets.pop(connection_id, None)

    def deliver(self, connection_id: str, data: bytes) -> int:
        with self._lock:
            websocket = self.sockets.get(connection_id)
            if connection_id in self.refused:
                self.refused.discard(connection_id)
                websocket = None
        if websocket is None:
            return 410
        try:
            websocket.send(data.decode())
        except ConnectionClosed:
            return 410
        with self._lock:
            self.delivered.append((connection_id, data))
        return 200

    def drop(self, connection_id: str) -> None:
        """The connection ends without a word (a container's socket lost mid-request)."""
        with self._lock:
            websocket = self.sockets.pop(connection_id, None)
        if websocket is not None:
            websocket.socket.shutdown(socket.SHUT_RDWR)


@dataclass
class ConnectionsEndpoint:
    """API Gateway's @connections endpoint, as a recorder: posts land in ``posted``."""

    posted: dict[str, list[bytes]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    closed: list[str] = field(default_factory=list)
    described: list[str] = field(default_factory=list)  # GetConnection's, in order
    url: str = ""

    def start(self) -> ThreadingHTTPServer:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                connection_id = unquote(self.path.rsplit("/", 1)[-1])
                data = self.rfile.read(int(self.headers.get("content-length", 0)))
                if connection_id in endpoint.gone:
                    body = json.dumps({"message": "Gone"}).encode()
                    self.send_response(410)
                    self.send_header("x-amzn-ErrorType", "GoneException")
                else:
                    endpoint.posted.setdefault(connection_id, []).append(data)
                    body = b""
                    self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - GetConnection
                connection_id = unquote(self.path.rsplit("/", 1)[-1])
                endpoint.described.append(connection_id)
                if connection_id in endpoint.gone:
                    self._gone()
                    return
                body = json.dumps({"connectedAt": "2026-12-02T00:00:00.000Z"}).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_DELETE(self) -> None:  # noqa: N802 - DeleteConnection
                connection_id = unquote(self.path.rsplit("/", 1)[-1])
                if connection_id in endpoint.gone:
                    self._gone()
                    return
                endpoint.closed.append(connection_id)
                endpoint.gone.add(connection_id)
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def _gone(self) -> None:
                body = json.dumps({"message": "Gone"}).encode()
                self.send_response(410)
                self.send_header("x-amzn-ErrorType", "GoneException")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}/{STAGE}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def messages(self, connection_id: str) -> list[dict[str, Any]]:
        return [json.loads(data) for data in self.posted.get(connection_id, [])]


@dataclass
class Functions:
    endpoint: ConnectionsEndpoint
    recorder: CallRecorder
    modules: dict[str, ModuleType]
    signing_key: str
    connections: Any
    bodies_bucket: str
    tokens: Any
    answers: AnswersApi

    def invoke(self, name: str, event: Any) -> Any:
        token = current_function.set(name)
        try:
            context = SimpleNamespace(aws_request_id=uuid.uuid4().hex, function_name=name)
            return self.modules[name].handler(event, context)
        finally:
            current_function.reset(token)


def load_function(name: str) -> ModuleType:
    path = PROJECT / "functions" / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"function_{name}_{uuid.uuid4().hex[:6]}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would (dataclasses look themselves up)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="package")  # its environment variables must not outlive this folder
def functions(rendered: dict[str, str]) -> Iterator[Functions]:
    handle = process.start()
    saved = dict(os.environ)
    os.environ.update(process.client_environment(handle.url))
    endpoint = ConnectionsEndpoint()
    server = endpoint.start()
    answers = AnswersApi()
    answer_servers = answers.start()
    try:
        cloudformation = boto3.client("cloudformation")
        outputs: dict[str, str] = {}
        for stack in ("keys", "tables", "bodies"):
            cloudformation.create_stack(
                StackName=f"functions-test-{stack}", TemplateBody=rendered[f"dev/{stack}"]
            )
            described = cloudformation.describe_stacks(StackName=f"functions-test-{stack}")
            outputs.update(
                {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}
            )
        os.environ.update(
            {
                "CONNECTIONS_TABLE": outputs["ConnectionsTableName"],
                "TOKENS_TABLE": outputs["TokensTableName"],
                "SIGNING_KEY_SECRET_ARN": outputs["SigningKeySecretArn"],
                "REPLY_KEY_SECRET_ARN": outputs["ReplyKeySecretArn"],
                "ANSWERS_URL": answers.url,
                "ANSWERS_ENDPOINT": answers.endpoint,
                "CONNECTIONS_ENDPOINT": endpoint.url,
                "BODIES_OBJECTS": f"s3://{outputs['BodiesBucketName']}/spill/",
                "PUBLIC_URL_FORMAT": "https://{subdomain}.tunnel.test",
            }
        )
        recorder = CallRecorder(
            Account(
                API_ID, STAGE, answers_api_id=ANSWERS_API_ID, answers_endpoint=answers.endpoint
            ),
            Path(os.environ.get("IAM_CALLS_FILE", ""))
            if os.environ.get("IAM_CALLS_FILE")
            else None,
        )
        boto3.setup_default_session()
        recorder.install()
        secret = boto3.client("secretsmanager").get_secret_value(
            SecretId=outputs["SigningKeySecretArn"]
        )["SecretString"]
        dynamodb = boto3.resource("dynamodb")
        functions = Functions(
            endpoint,
            recorder,
            {
                name: load_function(name)
                for name in ("authorizer", "connect", "disconnect", "forwarding", "response")
            },
            secret,
            dynamodb.Table(outputs["ConnectionsTableName"]),
            outputs["BodiesBucketName"],
            dynamodb.Table(outputs["TokensTableName"]),
            answers,
        )
        answers.invoke = functions.invoke
        answers.recorder = recorder
        yield functions
    finally:
        server.shutdown()
        for running in answer_servers:
            running.shutdown()
        os.environ.clear()
        os.environ.update(saved)
        process.stop(handle)
