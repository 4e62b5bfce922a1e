"""GetFunction's ``Code.Location``, downloadable as on AWS (``rules.check_code_location``).

On AWS, ``GetFunction`` returns ``Code.Location``: a presigned URL, valid for 10 minutes, that
downloads the function's deployment package. moto returns
``https://awslambda-<region>-tasks.s3.<region>.amazonaws.com/<key>``, which nothing serves. This
WSGI middleware, in front of moto's server, rewrites that field of every GetFunction answer to
a URL on the emulator itself (the request's Host), signed by this process and expiring with
AWS's lifetime, and serves those URLs: the zip moto holds for the function (its ``code_bytes``,
whose base64 SHA-256 is the ``CodeSha256`` GetFunction reports).

    GET /_emulator/function-code/<account>/<region>/<function>/<qualifier>/<sha256 hex>.zip
        ?Expires=<epoch seconds>&Signature=<HMAC-SHA256 hex>

An expired URL is refused with S3's 403 ``AccessDenied`` "Request has expired", an edited one
with 403 ``SignatureDoesNotMatch`` (both as XML error documents); one that names no function, or
code the function no longer runs (updated since), with 404 ``NoSuchKey``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote

from aws_fidelity import lambda_code, rules
from emulator.presigned_urls import error_document

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PREFIX = "/_emulator/function-code/"
# GET /2015-03-31/functions/<name or ARN>: Lambda's GetFunction (not .../configuration etc.).
_GET_FUNCTION = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/?$")
_CODE_PATH = re.compile(
    r"^/(?P<account>\d{12})/(?P<region>[a-z0-9-]+)/(?P<function>[^/]+)/(?P<qualifier>[^/]+)/"
    r"(?P<sha>[0-9a-f]{64})\.zip$"
)

# (account, region, function name, qualifier) -> the zip, or None if there is none.
CodeOf = Callable[[str, str, str, str], bytes | None]


def moto_code(account: str, region: str, function: str, qualifier: str) -> bytes | None:
    """The deployment package moto holds for that function version (the emulator runs moto in
    this process)."""
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import lambda_backends

    try:
        backend = lambda_backends[account][region]
        found = backend.get_function(function, None if qualifier == "$LATEST" else qualifier)
    except (KeyError, UnknownFunctionException):
        return None
    code = getattr(found, "code_bytes", b"")
    return code or None


def _signature(key: bytes, path: str, expires: int) -> str:
    return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def _answer(
    start_response: StartResponse, status: int, body: bytes, content_type: str
) -> list[bytes]:
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", content_type), ("Content-Length", str(len(body)))],
    )
    return [body]


def _refusal(start_response: StartResponse, refused: rules.Refused) -> list[bytes]:
    return _answer(start_response, refused.status, error_document(refused), "application/xml")


def with_function_code_locations(
    app: WSGIApplication,
    code_of: CodeOf = moto_code,
    clock: Callable[[], float] = time.time,
    key: bytes | None = None,
) -> WSGIApplication:
    """``app`` with downloadable GetFunction code locations (see the module's docstring)."""
    signing_key = key or secrets.token_bytes(32)  # this process's: its URLs die with it

    def location(host: str, configuration: dict[str, Any]) -> str | None:
        arn = str(configuration.get("FunctionArn", ""))
        parts = arn.split(":")
        if len(parts) < 7 or not configuration.get("CodeSha256"):
            return None
        region, account, function = parts[3], parts[4], parts[6]
        qualifier = str(configuration.get("Version") or "$LATEST")
        sha = lambda_code.code_sha256_hex(str(configuration["CodeSha256"]))
        if sha is None:
            return None
        path = f"/{account}/{region}/{function}/{quote(qualifier, safe='')}/{sha}.zip"
        expires = int(clock()) + rules.CODE_LOCATION_SECONDS
        signature = _signature(signing_key, path, expires)
        return f"http://{host}{PREFIX.rstrip('/')}{path}?Expires={expires}&Signature={signature}"

    def get_function(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None  # moto's server never writes through it

        result = app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = captured["status"], list(captured["headers"])
        if status.startswith("200"):
            try:
                answer = json.loads(body)
                configuration = answer.get("Configuration") or {}
                if configuration.get("PackageType", "Zip") == "Zip":
                    host = str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))
                    url = location(host, configuration)
                    if url is not None:
                        answer["Code"] = {**(answer.get("Code") or {}), "RepositoryType": "S3"}
                        answer["Code"]["Location"] = url
                        body = json.dumps(answer).encode()
            except (ValueError, AttributeError):
                pass  # not JSON: moto's own answer goes out as it is
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def serve_code(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = "/" + str(environ.get("PATH_INFO", ""))[len(PREFIX) :]
        match = _CODE_PATH.match(path)
        if match is None:
            return _no_such_key(start_response, path)
        query = dict(parse_qsl(str(environ.get("QUERY_STRING", ""))))
        try:
            expires = int(query.get("Expires", ""))
        except ValueError:
            return _refusal(
                start_response,
                rules.Refused("AccessDenied", "Query-string authentication requires the "
                              "Signature, Expires and AWSAccessKeyId parameters", 403),
            )  # fmt: skip
        signed_path = f"/{match['account']}/{match['region']}/{match['function']}/"
        signed_path += f"{quote(unquote(match['qualifier']), safe='')}/{match['sha']}.zip"
        expected = _signature(signing_key, signed_path, expires)
        try:
            rules.check_code_location(
                expires, hmac.compare_digest(expected, query.get("Signature", "")), clock()
            )
        except rules.Refused as refused:
            return _refusal(start_response, refused)
        code = code_of(
            match["account"], match["region"], match["function"], unquote(match["qualifier"])
        )
        if code is None or hashlib.sha256(code).hexdigest() != match["sha"]:
            return _no_such_key(start_response, path)  # gone, or updated since
        if environ.get("REQUEST_METHOD") == "HEAD":
            start_response("200 OK", [("Content-Type", "application/zip"),
                                      ("Content-Length", str(len(code)))])  # fmt: skip
            return [b""]
        return _answer(start_response, 200, code, "application/zip")

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith(PREFIX) and method in ("GET", "HEAD"):
            return serve_code(environ, start_response)
        if method == "GET" and _GET_FUNCTION.match(path) and _for_lambda(environ):
            return get_function(environ, start_response)
        return app(environ, start_response)

    return application


def _for_lambda(environ: WSGIEnvironment) -> bool:
    """A call signed for Lambda (its credential scope names the service), as moto tells it."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    return "/lambda/aws4_request" in authorization


def _no_such_key(start_response: StartResponse, path: str) -> list[bytes]:
    refused = rules.Refused(
        "NoSuchKey", "The specified key does not exist.", 404, {"Key": path.lstrip("/")}
    )
    return _refusal(start_response, refused)
