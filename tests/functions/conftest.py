"""The functions run in-process against the emulator, with the dev tables and signing secret
deployed from the rendered templates, and an @connections endpoint that records posts.

Every AWS call a function makes is recorded (``local_gateway.aws_calls``) for the
least-privilege test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from urllib.parse import unquote

import boto3
import pytest

from emulator import process
from local_gateway.aws_calls import Account, CallRecorder, current_function
from tests.conftest import PROJECT

API_ID = "testapi"
STAGE = "dev"


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
    pending: Any
    bodies_bucket: str
    tokens: Any

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
                "PENDING_REQUESTS_TABLE": outputs["PendingRequestsTableName"],
                "TOKENS_TABLE": outputs["TokensTableName"],
                "SIGNING_KEY_SECRET_ARN": outputs["SigningKeySecretArn"],
                "CONNECTIONS_ENDPOINT": endpoint.url,
                "BODIES_OBJECTS": f"s3://{outputs['BodiesBucketName']}/spill/",
                "PUBLIC_URL_FORMAT": "https://{subdomain}.tunnel.test",
            }
        )
        recorder = CallRecorder(
            Account(API_ID, STAGE),
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
        yield Functions(
            endpoint,
            recorder,
            {
                name: load_function(name)
                for name in ("authorizer", "connect", "disconnect", "forwarding", "response")
            },
            secret,
            dynamodb.Table(outputs["ConnectionsTableName"]),
            dynamodb.Table(outputs["PendingRequestsTableName"]),
            outputs["BodiesBucketName"],
            dynamodb.Table(outputs["TokensTableName"]),
        )
    finally:
        server.shutdown()
        os.environ.clear()
        os.environ.update(saved)
        process.stop(handle)
