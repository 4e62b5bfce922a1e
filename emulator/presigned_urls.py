"""S3 presigned URLs, checked as S3 checks them (``aws_fidelity.rules.check_presigned_request``).

moto's S3 serves any presigned URL: it checks neither the signature nor the expiry. This WSGI
middleware, in front of moto's server, takes the S3 requests that carry a query-string
signature (``X-Amz-Signature``, with an ``X-Amz-Credential`` scoped to ``s3``): one that S3
would refuse gets S3's XML error document and status; one it would serve goes on to moto. moto
serves every service on one port, telling them apart by host, path and the Authorization
header's credential scope; a presigned URL has no Authorization header, so its own credential
scope (``<key>/<date>/<region>/s3/aws4_request``) says it is for S3. Everything else, the SDKs'
header-signed calls included, passes untouched: header signatures are not verified here.

A presigned request whose Host is S3's global endpoint (``<bucket>.s3.amazonaws.com``) for a
bucket outside us-east-1 is answered as S3 answers it (``rules.check_presigned_endpoint``): a
307 to the regional host while the bucket is under a day old, 400 in a region launched after
March 2019. The emulator sees that Host only when the request reaches it with the name the URL
gave: the browser guard in front refuses every name but a loopback one, so over the emulator's
socket this check stays quiet, and the URLs that the local stack makes name 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import quote
from xml.sax.saxutils import escape

from aws_fidelity import rules, sigv4

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_DRAIN_CHUNK = 64 * 1024
# A bucket's region and when it was created (seconds since the epoch); None if there is none.
BucketLocation = Callable[[str], tuple[str, float] | None]


def presigned_s3_request(raw_query: str) -> bool:
    """Does this query carry an S3 query-string signature?"""
    pairs = dict(sigv4.query_pairs(raw_query))
    if sigv4.SIGNATURE_PARAMETER not in pairs:
        return False
    scope = pairs.get("X-Amz-Credential", "").split("/")
    return len(scope) == 5 and scope[3] == "s3"


def request_headers(environ: WSGIEnvironment) -> list[tuple[str, str]]:
    """The request's headers, as WSGI gives them (``HTTP_X_AMZ_DATE`` -> ``x-amz-date``)."""
    headers = [
        (key[5:].replace("_", "-").lower(), str(value))
        for key, value in environ.items()
        if key.startswith("HTTP_")
    ]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers.append((key.replace("_", "-").lower(), str(environ[key])))
    return headers


def raw_path(environ: WSGIEnvironment) -> str:
    """The path as the client sent it (werkzeug keeps the request target in ``RAW_URI`` and
    ``REQUEST_URI``; ``PATH_INFO`` is decoded)."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target:
        path = str(target).partition("?")[0]
        if "://" in path:  # an absolute-form target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return path or "/"
    decoded = str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "replace")
    return quote(decoded, safe="/~") or "/"


def error_document(refused: rules.Refused) -> bytes:
    """S3's XML error document."""
    fields = {"Code": refused.code, "Message": refused.message, **refused.details}
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{inner}</Error>'.encode()


def _drain(environ: WSGIEnvironment) -> None:
    """Read the unread body, so that the connection can carry the next request."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    try:
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        remaining = 0
    if environ.get("wsgi.input_terminated"):
        while stream.read(_DRAIN_CHUNK):
            pass
        return
    while remaining > 0:
        chunk = stream.read(min(remaining, _DRAIN_CHUNK))
        if not chunk:
            return
        remaining -= len(chunk)


def moto_bucket_location(bucket: str) -> tuple[str, float] | None:
    """``bucket``'s region and creation time, from moto's S3 (in the emulator's process)."""
    from moto.s3.models import s3_backends

    for account_id in list(s3_backends.keys()):
        found = s3_backends[account_id]["aws"].buckets.get(bucket)
        if found is not None:
            return str(found.region_name), found.creation_date.timestamp()
    return None


def _redirect_headers(
    environ: WSGIEnvironment, refused: rules.Refused, path: str, region: str
) -> list[tuple[str, str]]:
    """A TemporaryRedirect's ``Location`` (the same request on the bucket's regional host) and
    ``x-amz-bucket-region``."""
    host = str(environ.get("HTTP_HOST", "")).partition(":")[0].lower().rstrip(".")
    if host == rules.S3_GLOBAL_ENDPOINT:  # path style: the bucket moves into the host
        path = "/" + path.lstrip("/").partition("/")[2]
    query = str(environ.get("QUERY_STRING", ""))
    scheme = str(environ.get("wsgi.url_scheme", "https"))
    location = f"{scheme}://{refused.details['Endpoint']}{path}" + (f"?{query}" if query else "")
    return [("Location", location), ("x-amz-bucket-region", region)]


def with_presigned_url_checks(
    app: WSGIApplication,
    # A URL signed with any key but the emulator's own is refused.
    secret_keys: Mapping[str, str] = rules.KNOWN_CREDENTIALS,
    clock: Callable[[], float] = time.time,
    bucket_location: BucketLocation = moto_bucket_location,
) -> WSGIApplication:
    """``app`` behind S3's presigned-URL checks (see the module's docstring)."""

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raw_query = str(environ.get("QUERY_STRING", ""))
        if not presigned_s3_request(raw_query):
            return app(environ, start_response)
        path = raw_path(environ)
        region = ""
        try:
            bucket = rules.global_endpoint_bucket(str(environ.get("HTTP_HOST", "")), path)
            location = bucket_location(bucket) if bucket is not None else None
            if bucket is not None and location is not None:
                region, created = location
                rules.check_presigned_endpoint(bucket, region, clock() - created)
            rules.check_presigned_request(
                str(environ.get("REQUEST_METHOD", "GET")),
                path,
                raw_query,
                request_headers(environ),
                secret_keys,
                clock(),
            )
        except rules.Refused as refused:
            headers = (
                _redirect_headers(environ, refused, path, region)
                if refused.status == HTTPStatus.TEMPORARY_REDIRECT
                else []
            )
            _drain(environ)
            body = error_document(refused)
            status = f"{refused.status} {HTTPStatus(refused.status).phrase}"
            start_response(
                status,
                [
                    ("Content-Type", "application/xml"),
                    ("Content-Length", str(len(body))),
                    *headers,
                ],
            )
            return [body]
        return app(environ, start_response)

    return application
