"""Lambda's ``CodeSha256``: the base64 (not hex) of the SHA-256 of the deployment package.

One definition for every tool that compares or names code: ``make sync`` (is the deployed code
the local zip?), the emulator (its ``Code.Location`` names the package by its digest) and the
local gateway (it checks what it downloaded, and logs the digest as the S3 keys spell it).
Source: "FunctionConfiguration", ``CodeSha256``: "The SHA256 hash of the function's deployment
package", https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html; moto
and AWS both give it base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib


def code_sha256(package: bytes) -> str:
    """``CodeSha256`` of a deployment package, as Lambda reports it."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def code_sha256_hex(code_sha256_value: str) -> str | None:
    """The same digest in hex (as the project's S3 keys name zips); None if not base64."""
    try:
        return base64.b64decode(code_sha256_value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None
