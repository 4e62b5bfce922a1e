"""Which API operations the emulator served, one JSON line per request: opt-in, for tests.

``python -m emulator --call-log FILE`` (or ``EMULATOR_CALL_LOG=FILE``) appends
``{"service", "signing_name", "operation", "method", "path", "status"}`` for every SigV4-signed
request. Without it nothing is wrapped, so it costs nothing.

The operation is derived as AWS's own front ends tell them apart, from botocore's service models:
the credential scope names the signing service (several models may share one: apigateway and
apigatewayv2 both sign as ``apigateway``); then ``X-Amz-Target`` for JSON protocols, ``Action``
for query protocols, ``/service/X/operation/Op`` for Smithy RPC v2 CBOR, and for REST protocols
the operation whose method and requestUri (path pattern plus required query keys and headers)
match, the most specific one winning. Calls that CloudFormation makes inside the emulator are
not HTTP requests and are not recorded.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ENVIRONMENT_VARIABLE = "EMULATOR_CALL_LOG"
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"^[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request$")
_CBOR_PATH = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class _RestOperation:
    service: str
    name: str
    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]  # key, and value if the requestUri fixes one
    headers: tuple[str, ...]  # required header members, lower case
    literal: int  # characters of the path that are not labels: more is more specific


class OperationIndex:
    """botocore's service models, indexed by signing name; loaded once, on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded = False
        self._protocols: dict[str, list[tuple[str, str, str]]] = {}  # name, protocol, prefix
        self._rest: dict[str, list[_RestOperation]] = {}

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            import botocore.session

            loader = botocore.session.get_session().get_component("data_loader")
            for name in loader.list_available_services("service-2"):
                model = loader.load_service_model(name, "service-2")
                metadata = model["metadata"]
                signing = metadata.get("signingName") or metadata["endpointPrefix"]
                protocol = metadata.get("protocol", "")
                entry = (name, protocol, metadata.get("targetPrefix", ""))
                # The model named like its signing service first: it wins a tie.
                candidates = self._protocols.setdefault(signing, [])
                candidates.insert(0 if name == signing else len(candidates), entry)
                if protocol.startswith("rest"):
                    operations = self._rest.setdefault(signing, [])
                    rest = list(_rest_operations(name, model))
                    if name == signing:
                        operations[0:0] = rest
                    else:
                        operations.extend(rest)
            self._loaded = True

    def resolve(self, signing: str, environ: dict[str, Any], body: bytes) -> tuple[str, str] | None:
        """(service model name, operation name), or None if no model explains the request."""
        self._load()
        candidates = self._protocols.get(signing, [])
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target and "." in target:
            prefix, _, operation = target.rpartition(".")
            for name, _, target_prefix in candidates:
                if target_prefix == prefix:
                    return name, operation
            # A model that moved to another protocol (CloudWatch: query, JSON, then CBOR) may
            # not name the prefix a client's older model still sends.
            return (candidates[0][0] if candidates else signing), operation
        path = environ.get("PATH_INFO", "") or "/"
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if match := _CBOR_PATH.match(path):
            return (candidates[0][0] if candidates else signing), match[1]
        action = query.get("Action", [""])[0]
        if not action and _FORM in environ.get("CONTENT_TYPE", ""):
            action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
        if action:
            query_models = [
                name for name, protocol, _ in candidates if protocol in ("query", "ec2")
            ]
            return (query_models[0] if query_models else signing), action
        return self._rest_match(signing, environ, path, query)

    def _rest_match(
        self, signing: str, environ: dict[str, Any], path: str, query: dict[str, list[str]]
    ) -> tuple[str, str] | None:
        method = environ.get("REQUEST_METHOD", "GET")
        path = _path_style(signing, environ, path)
        best: tuple[tuple[int, int, int], _RestOperation] | None = None
        for operation in self._rest.get(signing, []):
            if operation.method != method or not operation.path.match(path):
                continue
            if any(key not in query or (value is not None and query[key][0] != value)
                   for key, value in operation.query):  # fmt: skip
                continue
            if any(f"HTTP_{h.upper().replace('-', '_')}" not in environ for h in operation.headers):
                continue
            score = (len(operation.query), len(operation.headers), operation.literal)
            if best is None or score > best[0]:
                best = (score, operation)
        return (best[1].service, best[1].name) if best else None


def _path_style(signing: str, environ: dict[str, Any], path: str) -> str:
    """S3's virtual-hosted style (``bucket.s3.<...>``) as the path style the models describe."""
    host = environ.get("HTTP_HOST", "").split(":")[0]
    if signing == "s3" and ".s3." in f"{host}." and not host.startswith("s3."):
        return f"/{host.split('.s3.')[0]}{path}"
    return path


def _rest_operations(service: str, model: dict[str, Any]) -> Iterable[_RestOperation]:
    shapes = model.get("shapes", {})
    for name, operation in model.get("operations", {}).items():
        http = operation.get("http", {})
        uri = http.get("requestUri", "/")
        uri_path, _, uri_query = uri.partition("?")
        pattern, literal = "", 0
        for piece in re.split(r"(\{[^}]+\})", uri_path):
            if piece.startswith("{"):
                pattern += ".+" if piece.endswith("+}") else "[^/]+"
            else:
                pattern += re.escape(piece)
                literal += len(piece)
        query = tuple(
            (key, value if sep else None)
            for key, sep, value in (p.partition("=") for p in uri_query.split("&") if p)
        )
        input_shape = shapes.get(operation.get("input", {}).get("shape", ""), {})
        required = set(input_shape.get("required", []))
        members = input_shape.get("members", {})
        headers = tuple(
            str(member["locationName"]).lower()
            for key, member in members.items()
            if key in required and member.get("location") == "header"
        )
        yield _RestOperation(
            service,
            name,
            http.get("method", "POST"),
            re.compile(f"^{pattern}/?$"),
            query,
            headers,
            literal,
        )


def signing_name(environ: dict[str, Any]) -> str | None:
    """The service in the request's SigV4 credential scope (header or presigned query)."""
    if match := _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")):
        return match[1]
    credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
    if match := _QUERY_SCOPE.match(credential):
        return match[1]
    return None


def _read_body(environ: dict[str, Any]) -> bytes:
    """The form body of a query-protocol request, put back for the app to read again."""
    if _FORM not in environ.get("CONTENT_TYPE", ""):
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b""
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def with_call_log(app: WSGIApplication, path: str, index: OperationIndex | None = None) -> Any:
    """``app``, appending one JSON line per signed request it serves to the file at ``path``."""
    index = index or OperationIndex()
    threading.Thread(target=index._load, daemon=True).start()  # ~5 s: overlaps startup
    write_lock = threading.Lock()

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        signing = signing_name(environ)  # type: ignore[arg-type]
        if signing is None:
            return app(environ, start_response)
        body = _read_body(environ)  # type: ignore[arg-type]
        resolved = index.resolve(signing, environ, body)  # type: ignore[arg-type]
        status: list[str] = []

        def start(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(code.split(" ", 1)[0])
            return start_response(code, headers, exc_info)

        result = app(environ, start)
        record = {
            "service": resolved[0] if resolved else None,
            "signing_name": signing,
            "operation": resolved[1] if resolved else None,
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status[0]) if status and status[0].isdigit() else None,
        }
        with write_lock, open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
        return result

    return application


def read(path: str) -> list[dict[str, Any]]:
    """The records a call log holds, in the order they were served."""
    with open(path, encoding="utf-8") as log:
        return [json.loads(line) for line in log if line.strip()]
