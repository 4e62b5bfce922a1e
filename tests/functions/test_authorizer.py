"""The $connect authorizer lets in signed, unexpired, well-formed tokens only."""

from __future__ import annotations

import pytest
from tunnel_shared import tokens

from tests.functions.agents import token
from tests.functions.events import authorizer_event


def effect(answer: dict) -> str:
    return answer["policyDocument"]["Statement"][0]["Effect"]


def test_a_valid_token_is_allowed_with_its_subject_and_subdomain(functions):
    answer = functions.invoke("authorizer", authorizer_event(token(functions, "ana", "demo")))
    assert effect(answer) == "Allow"
    assert answer["principalId"] == "ana"
    assert answer["context"] == {"subject": "ana", "subdomain": "demo"}
    statement = answer["policyDocument"]["Statement"][0]
    assert statement["Resource"].endswith("/dev/$connect")
    assert statement["Action"] == "execute-api:Invoke"


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        "v1.abc",
        "v2.e30.sig",
        "v1.!!!.sig",
        "x" * 5000,
    ],
)
def test_missing_or_malformed_tokens_are_denied(functions, bad):
    answer = functions.invoke("authorizer", authorizer_event(bad))
    assert effect(answer) == "Deny"
    assert "context" not in answer


def test_an_expired_token_is_denied(functions):
    expired = tokens.issue(functions.signing_key, "ana", "demo", 60, now=0)
    assert effect(functions.invoke("authorizer", authorizer_event(expired))) == "Deny"


def test_a_token_signed_with_another_key_is_denied(functions):
    forged = tokens.issue("not-the-signing-key", "mallory", "demo", 600)
    assert effect(functions.invoke("authorizer", authorizer_event(forged))) == "Deny"


def test_a_tampered_token_is_denied(functions):
    version, claims, signature = token(functions, "ana", "demo").split(".")
    other = tokens.issue(functions.signing_key, "ana", "other", 600).split(".")[1]
    assert (
        effect(functions.invoke("authorizer", authorizer_event(f"{version}.{other}.{signature}")))
        == "Deny"
    )
    assert claims != other
