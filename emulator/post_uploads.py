"""S3 POST uploads (browser-based form uploads), checked as S3 checks them
(``aws_fidelity.rules.check_post_policy``).

moto stores whatever a POST to a bucket carries: it checks neither the policy's signature, nor
its expiry, nor its conditions (the key's prefix, the size). This WSGI middleware, in front of
moto's server, takes the unsigned ``multipart/form-data`` POSTs (no other AWS call has that
form, and a signed one has an ``Authorization`` header): one that S3 would refuse gets S3's XML
error document and status; one it would store goes on to moto, its body untouched.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING

from aws_fidelity import rules
from emulator.presigned_urls import error_document, raw_path

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_NAME = re.compile(rb'name="([^"]*)"', re.IGNORECASE)


def is_post_upload(environ: WSGIEnvironment) -> bool:
    """Is this an unsigned form upload (what S3 serves as POST Object)?"""
    return (
        environ.get("REQUEST_METHOD") == "POST"
        and not environ.get("HTTP_AUTHORIZATION")
        and str(environ.get("CONTENT_TYPE", "")).lower().startswith("multipart/form-data")
    )


def form_fields(content_type: str, body: bytes) -> tuple[dict[str, str], int]:
    """The form's text fields (names lowercased) and the size of its ``file``, read exactly
    as sent (RFC 7578: parts between ``--boundary`` lines, headers, a blank line, the value).
    ``ValueError`` for a form that cannot be read."""
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise ValueError("a multipart/form-data body without a boundary")
    delimiter = b"--" + found.group(1).encode()
    fields: dict[str, str] = {}
    file_size = -1
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, separator, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = _NAME.search(head)
        if not separator or name is None:
            raise ValueError("a form part without a name")
        value = value.removesuffix(b"\r\n")
        field = name.group(1).decode("utf-8", "replace").lower()
        if field == "file":
            file_size = len(value)
            break  # S3 ignores what follows the file
        fields[field] = value.decode("utf-8", "replace")
    if file_size < 0:
        raise ValueError("a POST upload without a file field")
    return fields, file_size


def with_post_policy_checks(
    app: WSGIApplication,
    secret_keys: Mapping[str, str] = rules.KNOWN_CREDENTIALS,
    clock: Callable[[], float] = time.time,
) -> WSGIApplication:
    """``app`` behind S3's POST policy checks (see the module's docstring)."""

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not is_post_upload(environ):
            return app(environ, start_response)
        stream = environ["wsgi.input"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = stream.read() if environ.get("wsgi.input_terminated") else stream.read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        bucket = raw_path(environ).lstrip("/").partition("/")[0]
        try:
            try:
                fields, file_size = form_fields(str(environ.get("CONTENT_TYPE", "")), body)
            except ValueError as error:
                raise rules.Refused("MalformedPOSTRequest", str(error)) from None
            rules.check_post_policy(bucket, fields, file_size, secret_keys, clock())
        except rules.Refused as refused:
            document = error_document(refused)
            start_response(
                f"{refused.status} {HTTPStatus(refused.status).phrase}",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(document)))],
            )
            return [document]
        return app(environ, start_response)

    return application
