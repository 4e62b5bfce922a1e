"""Verifying an AWS Signature Version 4 signature, as the service that receives a request does.

A signed request claims who signed it (the access key id and the credential scope: date,
region, service), when (``X-Amz-Date``), which headers it signed, and the signature. The
verifier rebuilds what was signed from the request as received:

    canonical request   method \\n canonical URI \\n canonical query \\n canonical headers \\n
                        signed headers \\n payload hash
    string to sign      AWS4-HMAC-SHA256 \\n X-Amz-Date \\n scope \\n hex(sha256(canonical request))
    signing key         HMAC chain "AWS4" + secret -> date -> region -> service -> "aws4_request"
    signature           hex(HMAC(signing key, string to sign))

and compares signatures in constant time. Two forms carry the claims:
- the query string (a presigned URL): ``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
  ``X-Amz-Expires``, ``X-Amz-SignedHeaders``, ``X-Amz-Signature``; every other parameter is
  signed, and the payload is ``UNSIGNED-PAYLOAD``;
- the ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``
  header, with ``X-Amz-Date`` a header and the payload hash ``X-Amz-Content-Sha256`` (S3: the
  body's SHA-256, ``UNSIGNED-PAYLOAD``, or ``STREAMING-...`` for an aws-chunked upload, whose
  header signature is then the seed signature) or, for every other service, the body's SHA-256.

S3 signs the path as sent; every other service signs it normalized and URI-encoded once more.

Sources: "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)",
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html; "Authentication
methods" (the header form), https://docs.aws.amazon.com/IAM/latest/UserGuide/
aws-signing-authentication-methods.html; botocore.auth (SigV4Auth, SigV4QueryAuth,
S3SigV4QueryAuth), which tests/fidelity checks this module against; "Signature calculations
for the Authorization header: Transferring payload in multiple chunks (chunked upload) (AWS
Signature Version 4)" (the seed signature, the STREAMING-... values), https://
docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# S3's payload hash header, and the prefix of the values that announce an aws-chunked body:
# STREAMING-AWS4-HMAC-SHA256-PAYLOAD (each chunk signed, chained to the seed signature of the
# Authorization header), STREAMING-UNSIGNED-PAYLOAD-TRAILER (a trailing checksum) and their
# -TRAILER and ECDSA variants. The seed signature signs the headers with that literal as the
# payload hash.
CONTENT_SHA256 = "x-amz-content-sha256"
STREAMING_PREFIX = "STREAMING-"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TERMINATOR = "aws4_request"
SIGNATURE_PARAMETER = "X-Amz-Signature"
# The parameters a presigned URL must carry.
QUERY_PARAMETERS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    SIGNATURE_PARAMETER,
)
_UNRESERVED = "-_.~"  # with letters and digits: never percent-encoded


class Malformed(ValueError):
    """The request's signing parameters cannot be read."""


@dataclass(frozen=True)
class Credential:
    """``<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request``."""

    access_key_id: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"

    @classmethod
    def parse(cls, text: str) -> Credential:
        parts = text.split("/")
        if len(parts) != 5 or parts[4] != TERMINATOR or not all(parts):
            raise Malformed(f"credential {text!r} is not key/date/region/service/{TERMINATOR}")
        return cls(*parts[:4])


@dataclass(frozen=True)
class Claims:
    """What a signed request says about its signature."""

    credential: Credential
    amz_date: str  # YYYYMMDD'T'HHMMSS'Z'
    signed_headers: tuple[str, ...]  # lowercase, as listed
    signature: str
    expires: str | None = None  # X-Amz-Expires, as sent (query form only)


def uri_encode(text: str, encode_slash: bool = True) -> str:
    """SigV4's URI encoding: every byte but letters, digits and ``-_.~`` as ``%XX`` (upper
    case); ``/`` kept when ``encode_slash`` is false."""
    return quote(text, safe=_UNRESERVED if encode_slash else _UNRESERVED + "/")


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The parameters of a raw query string, percent-decoded (``+`` stays ``+``), in order;
    a parameter without ``=`` has the value ``""``."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def canonical_query(pairs: Iterable[tuple[str, str]], leave_out: str | None = None) -> str:
    """Every parameter but ``leave_out``, names and values URI-encoded, sorted by name, then
    by value."""
    encoded = sorted((uri_encode(n), uri_encode(v)) for n, v in pairs if n != leave_out)
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_uri(raw_path: str, service: str) -> str:
    """The path as signed: S3 signs it as sent; other services sign it normalized (no ``.``
    or ``..`` segments, no repeated ``/``) and URI-encoded once more."""
    path = raw_path or "/"
    if service == "s3":
        return path
    normalized = posixpath.normpath(path)
    if normalized.startswith("//"):  # normpath keeps a leading "//"
        normalized = "/" + normalized.lstrip("/")
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return uri_encode(normalized, encode_slash=False)


def is_sha256_hex(text: str) -> bool:
    """Is ``text`` a SHA-256 as SigV4 writes it: 64 lowercase hex digits?"""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def payload_hash(service: str, headers: Iterable[tuple[str, str]], body: bytes) -> str:
    """The payload hash a header-signed request signs: for S3, whatever its
    ``X-Amz-Content-Sha256`` header says (the body's SHA-256 in hex, ``UNSIGNED-PAYLOAD``, or a
    ``STREAMING-...`` value for an aws-chunked upload, whose header signature is the seed
    signature), the body's SHA-256 if it sent none; for every other service, the SHA-256 of the
    body as received, whatever a header says."""
    if service == "s3":
        for name, value in headers:
            if name.lower() == CONTENT_SHA256:
                return value.strip()
    return hashlib.sha256(body).hexdigest()


def _header_value(values: list[str]) -> str:
    return ",".join(" ".join(value.split()) for value in values)


def canonical_headers(headers: Iterable[tuple[str, str]], signed: Iterable[str]) -> str:
    """``name:value\\n`` for each signed header, in order: names lowercase, values trimmed with
    inner runs of spaces made one, repeated headers joined with ``,``."""
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(value)
    return "".join(f"{name}:{_header_value(by_name.get(name, []))}\n" for name in signed)


def canonical_request(
    method: str,
    uri: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    signed_headers: tuple[str, ...],
    payload_hash: str,
) -> str:
    return "\n".join(
        [
            method.upper(),
            uri,
            query,
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def signing_key(secret_key: str, credential: Credential) -> bytes:
    key = ("AWS4" + secret_key).encode()
    for part in (credential.date, credential.region, credential.service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret_key: str, credential: Credential, to_sign: str) -> str:
    key = signing_key(secret_key, credential)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _signed_header_names(text: str) -> tuple[str, ...]:
    names = tuple(text.split(";"))
    if not text or not all(names) or any(n != n.lower() for n in names):
        raise Malformed(f"signed headers {text!r} are not lowercase names joined by ';'")
    return names


def query_claims(pairs: list[tuple[str, str]]) -> Claims:
    """The claims of a presigned URL's parameters; Malformed if one is missing or unreadable."""
    found = dict(pairs)
    missing = [name for name in QUERY_PARAMETERS if not found.get(name)]
    if missing:
        raise Malformed(f"missing {', '.join(missing)}")
    if found["X-Amz-Algorithm"] != ALGORITHM:
        raise Malformed(f"algorithm {found['X-Amz-Algorithm']!r} is not {ALGORITHM}")
    return Claims(
        Credential.parse(found["X-Amz-Credential"]),
        found["X-Amz-Date"],
        _signed_header_names(found["X-Amz-SignedHeaders"]),
        found[SIGNATURE_PARAMETER],
        found["X-Amz-Expires"],
    )


def header_claims(authorization: str, amz_date: str) -> Claims:
    """The claims of an ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
    Signature=...`` header; ``amz_date`` is the request's ``X-Amz-Date`` header."""
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise Malformed(f"algorithm {algorithm!r} is not {ALGORITHM}")
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    try:
        return Claims(
            Credential.parse(fields["Credential"]),
            amz_date,
            _signed_header_names(fields["SignedHeaders"]),
            fields["Signature"],
        )
    except KeyError as missing:
        raise Malformed(f"the Authorization header has no {missing}") from None


def expected_signature(
    claims: Claims,
    secret_key: str,
    method: str,
    raw_path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    payload_hash: str,
) -> str:
    """The signature the request should carry, given its claims and the signer's secret."""
    canonical = canonical_request(
        method,
        canonical_uri(raw_path, claims.credential.service),
        query,
        headers,
        claims.signed_headers,
        payload_hash,
    )
    to_sign = string_to_sign(claims.amz_date, claims.credential.scope, canonical)
    return signature(secret_key, claims.credential, to_sign)


def matches(claims: Claims, expected: str) -> bool:
    return hmac.compare_digest(claims.signature.encode(), expected.encode())


def verify_query(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    secret_for: Callable[[str], str | None],
    payload_hash: str = UNSIGNED_PAYLOAD,
) -> bool:
    """Is this presigned request signed by the secret of the access key it names? Malformed if
    its parameters cannot be read, KeyError if ``secret_for`` knows no such key (None).
    ``payload_hash``: S3 presigned URLs sign ``UNSIGNED-PAYLOAD``; a presigned request to
    another service may sign its body's SHA-256 (botocore does over plain HTTP)."""
    pairs = query_pairs(raw_query)
    claims = query_claims(pairs)
    secret = secret_for(claims.credential.access_key_id)
    if secret is None:
        raise KeyError(claims.credential.access_key_id)
    query = canonical_query(pairs, leave_out=SIGNATURE_PARAMETER)
    expected = expected_signature(claims, secret, method, raw_path, query, headers, payload_hash)
    return matches(claims, expected)


def verify_header(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    secret_for: Callable[[str], str | None],
) -> bool:
    """As :func:`verify_query`, for the ``Authorization`` header form, any service: the payload
    hash is :func:`payload_hash`'s."""
    lower = {name.lower(): value for name, value in headers}
    claims = header_claims(lower.get("authorization", ""), lower.get("x-amz-date", ""))
    secret = secret_for(claims.credential.access_key_id)
    if secret is None:
        raise KeyError(claims.credential.access_key_id)
    signed_payload = payload_hash(claims.credential.service, headers, body)
    query = canonical_query(query_pairs(raw_query))
    expected = expected_signature(claims, secret, method, raw_path, query, headers, signed_payload)
    return matches(claims, expected)
