"""The agent's side of ``tunnel_shared.bodies``: large bodies stream between S3's presigned URLs
and the local service, a buffer at a time, never whole in memory.

- A request body stored by the forwarding function is fetched from its presigned GET and sent
  on to the local service as it arrives.
- A response body too large for one message is uploaded to the request's presigned PUT: as it
  arrives when its length is declared, from the one copy read otherwise (S3 needs the length
  before the first byte).
- A streamed response's parts too large for one message are POSTed to the request's
  ``partsUpload``, one object each (``upload_part``).

Either transfer is part of its request: at the request's deadline (tunnel_cli.deadline) its
connection to S3 is shut down too.

The URLs carry a signature and a session token: they are never printed, and an error names
only S3's error code. The public caller is told less still: which body could not be moved.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from typing import Protocol
from urllib.parse import urlsplit

from tunnel_shared.protocol import PartsUpload

from tunnel_cli.deadline import Deadline

CHUNK_BYTES = 64 * 1024
_ERROR_CODE = re.compile(rb"<Code>([A-Za-z]{1,64})</Code>")


REQUEST_BODY_FAILED = "the request body could not be fetched"
RESPONSE_BODY_FAILED = "the response body could not be delivered"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class TransferError(Exception):
    """S3 refused or failed a transfer; the message is safe to print (no URL), ``public`` is what
    the public caller is told."""

    def __init__(self, message: str, public: str = REQUEST_BODY_FAILED) -> None:
        super().__init__(message)
        self.public = public


def _connection(url: str, timeout: float, public: str) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TransferError("the server sent a body URL that is not http(s)", public)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return connection, target


def _refusal(what: str, status: int, body: bytes, public: str) -> TransferError:
    code = _ERROR_CODE.search(body[:4096])
    detail = code.group(1).decode() if code else f"HTTP {status}"
    return TransferError(f"S3 refused the {what} ({detail})", public)


def download(
    url: str, size: int, timeout: float, deadline: Deadline | None = None
) -> Iterator[bytes]:
    """The body at a presigned GET, in chunks; exactly ``size`` bytes or ``TransferError``."""
    connection, target = _connection(url, timeout, REQUEST_BODY_FAILED)
    try:
        try:
            if deadline is not None:
                deadline.connect(connection)
            connection.request("GET", target)
            answer = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            raise TransferError(f"cannot fetch the request body: {type(error).__name__}") from None
        if answer.status != 200:
            raise _refusal(
                "request body download", answer.status, answer.read(4096), REQUEST_BODY_FAILED
            )
        received = 0
        while True:
            try:
                chunk = answer.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as error:
                raise TransferError(
                    f"the request body download broke off: {type(error).__name__}"
                ) from None
            if not chunk:
                break
            received += len(chunk)
            yield chunk
        if received != size:
            raise TransferError(f"the request body was {received} bytes, not {size}")
    finally:
        if deadline is not None:
            deadline.forget(connection)
        connection.close()


def upload(
    url: str,
    source: Readable | memoryview,
    size: int,
    timeout: float,
    deadline: Deadline | None = None,
) -> None:
    """PUT ``size`` bytes to a presigned URL: from a stream read as it goes, or from memory."""
    connection, target = _connection(url, timeout, RESPONSE_BODY_FAILED)
    try:
        try:
            if deadline is not None:
                deadline.connect(connection)
            connection.putrequest("PUT", target, skip_accept_encoding=True)
            connection.putheader("Content-Length", str(size))
            connection.endheaders()
            if isinstance(source, memoryview):
                for start in range(0, size, CHUNK_BYTES):
                    connection.send(source[start : start + CHUNK_BYTES])
            else:
                left = size
                while left > 0:
                    chunk = source.read(min(CHUNK_BYTES, left))
                    if not chunk:
                        raise TransferError(
                            f"the local service's response ended {left} bytes short of its "
                            "Content-Length",
                            RESPONSE_BODY_FAILED,
                        )
                    connection.send(chunk)
                    left -= len(chunk)
            answer = connection.getresponse()
            reply = answer.read(4096)
        except (OSError, http.client.HTTPException) as error:
            raise TransferError(
                f"cannot upload the response body: {type(error).__name__}", RESPONSE_BODY_FAILED
            ) from None
        if answer.status != 200:
            raise _refusal("response body upload", answer.status, reply, RESPONSE_BODY_FAILED)
    finally:
        if deadline is not None:
            deadline.forget(connection)
        connection.close()


def upload_part(
    upload: PartsUpload,
    seq: int,
    data: bytes,
    timeout: float,
    deadline: Deadline | None = None,
) -> None:
    """POST one part of a streamed response to the request's ``partsUpload`` (S3's form
    upload: the policy's fields first, the file last, as S3 requires), under the key for
    ``seq``."""
    connection, target = _connection(upload.url, timeout, RESPONSE_BODY_FAILED)
    boundary = f"tunnel-part-{seq}-{len(data)}"
    fields = {**upload.fields, "key": upload.key(seq)}
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{seq}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    try:
        try:
            if deadline is not None:
                deadline.connect(connection)
            connection.putrequest("POST", target, skip_accept_encoding=True)
            connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
            connection.putheader("Content-Length", str(len(head) + len(data) + len(tail)))
            connection.endheaders()
            connection.send(head)
            view = memoryview(data)
            for start in range(0, len(data), CHUNK_BYTES):
                connection.send(view[start : start + CHUNK_BYTES])
            connection.send(tail)
            answer = connection.getresponse()
            reply = answer.read(4096)
        except (OSError, http.client.HTTPException) as error:
            raise TransferError(
                f"cannot upload part {seq} of the response: {type(error).__name__}",
                RESPONSE_BODY_FAILED,
            ) from None
        if answer.status not in (200, 201, 204):
            raise _refusal(f"upload of part {seq}", answer.status, reply, RESPONSE_BODY_FAILED)
    finally:
        if deadline is not None:
            deadline.forget(connection)
        connection.close()
