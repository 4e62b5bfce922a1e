"""The emulator's outermost WSGI layer: web pages may not use it, and every request is signed.

Every request, before moto (its CORS preflight handling included) and before the other layers:

1. from a web page (an ``Origin`` or ``Sec-Fetch-*`` header), or with a ``Host`` that is not a
   loopback name (DNS rebinding): **403**, one line of text saying why, and no
   ``Access-Control-*`` header, so the page cannot read it (``aws_fidelity.browser_guard``);
2. not SigV4-signed by the emulator's credentials, as AWS refuses it: AWS's error, in the
   protocol of the service (``aws_fidelity.rules.check_request_signature``). Not checked here,
   each having its own rule further in: S3 presigned URLs (``emulator/presigned_urls.py``), S3
   POST uploads (``emulator/post_uploads.py``) and GetFunction's code locations
   (``emulator/function_code.py``). One request is served
   unsigned: ``GET /moto-api/config``, the readiness probe of ``emulator.process`` (moto's
   settings, nothing secret); the rest of ``/moto-api/`` (state dumps, reset) must be signed.

And no answer carries ``Access-Control-*`` headers: moto's server adds them to everything
(``flask_cors``), which would let a page read any answer it could get.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from aws_fidelity import browser_guard, rules
from emulator.function_code import PREFIX as CODE_LOCATION_PREFIX
from emulator.post_uploads import is_post_upload
from emulator.presigned_urls import error_document, presigned_s3_request, raw_path

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

WHO = "the local AWS"
# emulator.process's readiness probe (serving_pid): the one request served unsigned.
READINESS_PATH = "/moto-api/config"
# moto's server keeps a header's own spelling here when it has an underscore (S3 metadata).
_PRESERVED_NAMES = "moto.preserved_header_names"
_DRAIN_CHUNK = 64 * 1024


def request_headers(environ: WSGIEnvironment) -> list[tuple[str, str]]:
    """The request's headers as sent (``HTTP_X_AMZ_DATE`` -> ``x-amz-date``; a name moto's
    server preserved with its underscores keeps them), ``Content-Type`` and ``-Length`` too."""
    preserved: Mapping[str, str] = environ.get(_PRESERVED_NAMES) or {}
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = preserved.get(key) or key[5:].replace("_", "-")
            headers.append((name.lower(), str(value)))
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers.append((key.replace("_", "-").lower(), str(environ[key])))
    return headers


def read_body(environ: WSGIEnvironment) -> bytes:
    """The whole body, put back as ``wsgi.input`` for the layers after this one."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):  # chunked: read to the end
        body = stream.read()
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _drain(environ: WSGIEnvironment) -> None:
    """Read the unread body (its Content-Length, or to the end of a chunked one), so that the
    client is not cut off while it sends."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    if environ.get("wsgi.input_terminated"):
        while stream.read(_DRAIN_CHUNK):
            pass
        return
    try:
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        remaining = 0
    while remaining > 0:
        chunk = stream.read(min(remaining, _DRAIN_CHUNK))
        if not chunk:
            return
        remaining -= len(chunk)


def aws_error(refused: rules.Refused, protocol: str) -> tuple[list[tuple[str, str]], bytes]:
    """The headers and body AWS answers ``refused`` with, in that protocol."""
    request_id = str(uuid.uuid4())
    if protocol == rules.S3_PROTOCOL:
        return [("Content-Type", "application/xml")], error_document(refused)
    if protocol == rules.QUERY_PROTOCOL:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{escape(refused.code)}</Code><Message>{escape(refused.message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body
    if protocol == rules.JSON_PROTOCOL:
        document: dict[str, str] = {"__type": refused.code, "message": refused.message}
        content_type = "application/x-amz-json-1.1"
    else:
        document = {"message": refused.message}
        content_type = "application/json"
    headers = [
        ("Content-Type", content_type),
        ("x-amzn-ErrorType", refused.code),
        ("x-amzn-RequestId", request_id),
    ]
    return headers, json.dumps(document).encode()


def _answer(
    start_response: StartResponse, status: int, headers: list[tuple[str, str]], body: bytes
) -> list[bytes]:
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [*headers, ("Content-Length", str(len(body)))],
    )
    return [body]


def checked_by_their_own_rules(environ: WSGIEnvironment) -> bool:
    """S3 presigned URLs and POST uploads, GetFunction's code locations, and the readiness
    probe."""
    path = str(environ.get("PATH_INFO", ""))
    method = environ.get("REQUEST_METHOD", "GET")
    query = str(environ.get("QUERY_STRING", ""))
    has_authorization = bool(environ.get("HTTP_AUTHORIZATION"))
    if path.startswith(CODE_LOCATION_PREFIX) and method in ("GET", "HEAD"):
        return True
    if path == READINESS_PATH and method == "GET":
        return True
    if is_post_upload(environ):
        return True
    return not has_authorization and presigned_s3_request(query)


def with_browser_guard(
    app: WSGIApplication,
    secret_keys: Mapping[str, str] = rules.KNOWN_CREDENTIALS,
    clock: Callable[[], float] | None = None,
) -> WSGIApplication:
    """``app`` behind the guard (see the module's docstring)."""

    def without_cors(start_response: StartResponse) -> StartResponse:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if not browser_guard.is_cors_header(k)]
            return start_response(status, kept, exc_info)

        return start

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response = without_cors(start_response)
        headers = request_headers(environ)
        refused_line = browser_guard.refusal(headers, WHO)
        if refused_line is not None:
            _drain(environ)
            body = (refused_line + "\n").encode()
            return _answer(start_response, 403, [("Content-Type", "text/plain")], body)
        if checked_by_their_own_rules(environ):
            return app(environ, start_response)
        body = read_body(environ)
        query = str(environ.get("QUERY_STRING", ""))
        try:
            rules.check_request_signature(
                str(environ.get("REQUEST_METHOD", "GET")),
                raw_path(environ),
                query,
                headers,
                body,
                secret_keys,
                None if clock is None else clock(),
            )
        except rules.Refused as refused:
            protocol = rules.request_protocol(headers, query, body)
            error_headers, error_body = aws_error(refused, protocol)
            return _answer(start_response, refused.status, error_headers, error_body)
        return app(environ, start_response)

    return application
