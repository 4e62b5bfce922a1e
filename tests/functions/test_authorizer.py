"""The $connect authorizer lets in signed, unexpired, well-formed tokens only."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tunnel_shared import token_records, tokens
from tunnel_shared.resources import tokens_table

from tests.functions.agents import token
from tests.functions.events import authorizer_event


def effect(answer: dict) -> str:
    return answer["policyDocument"]["Statement"][0]["Effect"]


def test_a_valid_token_is_allowed_with_its_subject_and_subdomain(functions):
    issued = token(functions, "ana", "demo")
    answer = functions.invoke("authorizer", authorizer_event(issued))
    assert effect(answer) == "Allow"
    assert answer["principalId"] == "ana"
    claims = tokens.read_claims(issued)
    assert answer["context"] == {
        "subject": "ana",
        "subdomain": "demo",
        "tokenId": claims.token_id,
        "expires": claims.expires,
    }
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


def test_a_signed_token_that_was_never_recorded_is_denied(functions):
    unrecorded = tokens.issue(functions.signing_key, "ana", "demo", 600)
    assert effect(functions.invoke("authorizer", authorizer_event(unrecorded))) == "Deny"


def test_a_revoked_token_is_denied(functions):
    issued = token(functions, "ana", "demo")
    token_records.revoke(functions.tokens, tokens.read_claims(issued).token_id, 1)
    assert effect(functions.invoke("authorizer", authorizer_event(issued))) == "Deny"


def test_a_non_ascii_signature_is_a_plain_deny(functions):
    head, claims, signature = token(functions, "ana", "demo").split(".")
    for forged in (signature[:-1] + "é", "ß" * len(signature), signature + "\u2603"):
        answer = functions.invoke("authorizer", authorizer_event(f"{head}.{claims}.{forged}"))
        assert effect(answer) == "Deny"


TOKENS = (
    st.text(max_size=300)
    | st.binary(max_size=200).map(lambda data: data.decode("latin-1"))
    | st.from_regex(r"v1\.[A-Za-z0-9_-]{0,60}\.[^\x00]{0,60}", fullmatch=True)
    | st.builds(
        lambda claims, signature: f"v1.{claims}.{signature}",
        st.text(max_size=80),
        st.text(alphabet=st.characters(min_codepoint=0x80), max_size=50),
    )
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(candidate=TOKENS)
def test_the_authorizer_never_raises_and_denies_every_malformed_token(functions, candidate):
    answer = functions.invoke("authorizer", authorizer_event(candidate))
    assert effect(answer) == "Deny"
    assert answer["principalId"] == "anonymous"


def test_the_token_record_is_read_consistently(functions):
    # An eventually consistent read may miss a token recorded a moment ago (refused) or a
    # revocation made a moment ago (let in); DynamoDB reads consistently only when asked.
    issued = token(functions, "ana", "demo")
    reads: list[dict] = []
    events = tokens_table().meta.client.meta.events
    handler_id = "test-consistent-token-read"

    def capture(params: dict, **_: object) -> None:
        reads.append(dict(params))

    events.register("provide-client-params.dynamodb.GetItem", capture, unique_id=handler_id)
    try:
        assert effect(functions.invoke("authorizer", authorizer_event(issued))) == "Allow"
    finally:
        events.unregister("provide-client-params.dynamodb.GetItem", unique_id=handler_id)
    assert [read.get("ConsistentRead") for read in reads] == [True]
