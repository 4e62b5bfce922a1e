"""The deployed code of each function, as Lambda runs it: downloaded, checked and unpacked.

Lambda runs the deployment package a function was created or last updated with
(``UpdateFunctionCode``), never the project's working tree. So does the gateway: ``GetFunction``
gives ``Code.Location`` (a presigned URL valid for 10 minutes, which the emulator serves) and
``CodeSha256``; the zip is downloaded, its base64 SHA-256 checked against ``CodeSha256``, and
unpacked into a folder of its own, ``<cache>/<function>/<sha256 hex>/``, which is the worker's
``LAMBDA_TASK_ROOT``. The cache is a temporary folder the gateway owns and removes when it stops.

Sources: "GetFunction" (the link, valid for 10 minutes),
https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html; "UpdateFunctionCode",
https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aws_fidelity import lambda_code

DOWNLOAD_SECONDS = 30.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class CodeUnavailable(Exception):
    """The deployed code cannot be fetched or does not match its CodeSha256: the message says
    why (for the gateway's log)."""


@dataclass(frozen=True)
class Code:
    sha256: str  # CodeSha256 as Lambda gives it: base64 of the zip's SHA-256
    task_root: Path

    @property
    def short(self) -> str:
        """The first 12 hex digits of the zip's SHA-256 (its S3 key names the whole digest)."""
        return sha_hex(self.sha256)[:12]


def sha_hex(code_sha256: str) -> str:
    return lambda_code.code_sha256_hex(code_sha256) or code_sha256


class CodeCache:
    """Unpacked deployment packages, one folder per function and CodeSha256."""

    def __init__(self, root: Path | None = None) -> None:
        self._owned = root is None
        self._root = root
        self._making = threading.Lock()  # load() fetches every function at once
        self._closed = False

    @property
    def root(self) -> Path:
        """Made at the first fetch, not before: a start interrupted before any code was fetched
        has no folder to leave behind, and one interrupted after is inside the start's cleanup."""
        with self._making:
            if self._closed:
                raise CodeUnavailable("the gateway is stopping")
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="local-gateway-code-"))
            return self._root

    def fetch(self, lam: Any, function_arn: str) -> Code:
        """The function's deployed code, unpacked (GetFunction, then its Code.Location)."""
        try:
            answer = lam.get_function(FunctionName=function_arn)
        except (BotoCoreError, ClientError) as error:
            raise CodeUnavailable(f"GetFunction failed ({error})") from None
        configuration = answer.get("Configuration") or {}
        sha = str(configuration.get("CodeSha256", ""))
        location = (answer.get("Code") or {}).get("Location")
        name = str(configuration.get("FunctionName") or function_arn.rsplit(":", 1)[-1])
        if not sha or not location:
            raise CodeUnavailable("GetFunction gave no Code.Location and CodeSha256")
        folder = self.root / name / sha_hex(sha)
        if folder.is_dir():  # unpacked before (folders appear whole: renamed into place)
            return Code(sha, folder)
        data = _download(location)
        got = lambda_code.code_sha256(data)
        if got != sha:
            raise CodeUnavailable(f"the zip downloaded has CodeSha256 {got}, not {sha}")
        try:
            staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=self.root))
        except OSError as error:  # the folder went with a close meanwhile
            raise CodeUnavailable(f"cannot unpack the zip ({error})") from None
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                archive.extractall(staging)
            # Never parents=True: a root removed by close() meanwhile must not come back.
            folder.parent.mkdir(exist_ok=True)
            staging.rename(folder)
        except (zipfile.BadZipFile, OSError) as error:
            shutil.rmtree(staging, ignore_errors=True)
            self._after_close()
            if folder.is_dir():  # another fetch of the same code got there first
                return Code(sha, folder)
            raise CodeUnavailable(f"cannot unpack the zip ({error})") from None
        if self._after_close():
            raise CodeUnavailable("the gateway is stopping")
        return Code(sha, folder)

    def _after_close(self) -> bool:
        """A fetch that was writing while close() ran (Ctrl-C during a start fetches every
        function on threads) removes what it wrote again, so nothing is left behind."""
        if not self._closed:
            return False
        self._remove()
        return True

    def close(self) -> None:
        with self._making:
            self._closed = True
        self._remove()

    def _remove(self) -> None:
        if self._owned and self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)


def _download(location: str) -> bytes:
    try:
        with _NO_PROXY.open(location, timeout=DOWNLOAD_SECONDS) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()[:300].decode(errors="replace")
        raise CodeUnavailable(f"Code.Location answered {error.code}: {body}") from None
    except (OSError, ValueError) as error:
        raise CodeUnavailable(f"cannot download Code.Location ({error})") from None
