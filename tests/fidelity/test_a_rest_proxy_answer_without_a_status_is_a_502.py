"""rules.check_rest_proxy_answer: a REST API's Lambda proxy answer without an integer
statusCode is API Gateway's 502 {"message": "Internal server error"}, and so is a failed
invocation, through the local REST edge's seam (local_gateway.rest_api.RestEdge.invoke_edge)."""

from __future__ import annotations

import asyncio

import pytest

from aws_fidelity import rules
from local_gateway.rest_api import RestEdge


def edge(result: object) -> RestEdge:
    async def invoke(event: dict) -> object:
        if isinstance(result, Exception):
            raise result
        return result

    return RestEdge(invoke, api_id="a1", stage="dev", account_id="1" * 12, domains={"*.t.test"})


@pytest.mark.parametrize(
    "answer",
    ["a bare string", {"body": "no status"}, {"statusCode": "200"}, {"statusCode": True}],
)
def test_an_answer_without_an_integer_status_is_refused_502(answer):
    with pytest.raises(rules.Refused) as refused:
        rules.check_rest_proxy_answer(answer)
    assert (refused.value.status, refused.value.message) == (502, "Internal server error")


def test_a_failed_invocation_is_the_same_502_without_internals():
    with pytest.raises(rules.Refused) as refused:
        asyncio.run(edge(RuntimeError("secret detail")).invoke_edge({}))
    assert (refused.value.status, refused.value.message) == (502, "Internal server error")
    assert "secret" not in str(refused.value)


def test_a_good_answer_passes_as_a_prelude_and_its_body():
    async def read() -> tuple[dict, bytes]:
        prelude, chunks = await edge(
            {
                "statusCode": 201,
                "headers": {"a": "b"},
                "cookies": ["s=1"],
                "body": "aGk=",
                "isBase64Encoded": True,
            }
        ).invoke_edge({})
        return prelude, b"".join([c async for c in chunks])

    prelude, body = asyncio.run(read())
    assert prelude == {"statusCode": 201, "headers": {"a": "b"}, "cookies": ["s=1"]}
    assert body == b"hi"


def test_only_a_label_under_a_mapped_wildcard_domain_is_served():
    served = edge({})
    assert served.serves("demo.t.test")
    assert not served.serves("demo.a.t.test")
    assert not served.serves("demo.other.test")
