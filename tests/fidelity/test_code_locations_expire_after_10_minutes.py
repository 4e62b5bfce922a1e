"""rules.check_code_location: GetFunction's Code.Location is a presigned URL valid for 10
minutes; the emulator's is refused as S3 refuses a presigned URL: expired (403 AccessDenied
"Request has expired"), edited (403 SignatureDoesNotMatch), naming no code (404 NoSuchKey)."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import pytest

from aws_fidelity import rules
from tests.emulator.test_function_code_location import (  # noqa: F401
    download,
    error_of,
    function,
    with_query,
)


def test_a_location_is_refused_once_ten_minutes_have_passed(aws: Any, function: str) -> None:  # noqa: F811
    location = aws("lambda").get_function(FunctionName=function)["Code"]["Location"]
    expires = int(dict(parse_qsl(urlsplit(location).query))["Expires"])
    assert 0 < expires - time.time() <= rules.CODE_LOCATION_SECONDS + 1
    # The emulator's clock cannot be moved from here: the rule itself, with the URL's expiry.
    with pytest.raises(rules.Refused) as refused:
        rules.check_code_location(expires, True, now=expires + 1)
    assert (refused.value.status, refused.value.code) == (403, "AccessDenied")
    assert refused.value.message == "Request has expired"
    rules.check_code_location(expires, True, now=expires - 1)  # still valid


def test_an_expired_or_tampered_location_is_refused(aws: Any, function: str) -> None:  # noqa: F811
    location = aws("lambda").get_function(FunctionName=function)["Code"]["Location"]
    expires = int(dict(parse_qsl(urlsplit(location).query))["Expires"])

    # Expired (an expiry in the past; S3 says so before it looks at the signature).
    status, body = download(with_query(location, Expires=str(expires - 3600)))
    assert status == 403
    assert error_of(body)["Code"] == "AccessDenied"
    assert error_of(body)["Message"] == "Request has expired"

    # Its lifetime stretched, its signature edited: not what the emulator signed.
    for tampered in (
        with_query(location, Expires=str(expires + 3600)),
        with_query(location, Signature="0" * 64),
    ):
        status, body = download(tampered)
        assert status == 403 and error_of(body)["Code"] == "SignatureDoesNotMatch", tampered

    # Another function's path, or none at all: unknown.
    parts = urlsplit(location)
    status, body = download(urlunsplit(parts._replace(path=parts.path + "x")))
    assert status == 404 and error_of(body)["Code"] == "NoSuchKey"


def test_the_rule_refuses_an_edited_url_with_s3s_error() -> None:
    with mock.patch("time.time", return_value=1000.0):
        with pytest.raises(rules.Refused) as refused:
            rules.check_code_location(2000, False)
    assert (refused.value.status, refused.value.code) == (403, "SignatureDoesNotMatch")
