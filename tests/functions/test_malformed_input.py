"""Property tests: malformed events and messages never make a handler raise or leak internals."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functions.events import authorizer_event, http_event, websocket_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


# Events: arbitrary JSON, or a real event with one field replaced by junk.
def mangled(base: dict) -> st.SearchStrategy:
    def replace(event: dict, key: str, value: object) -> dict:
        copy = json.loads(json.dumps(event))
        node = copy
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node[last] = value
        return copy

    keys = st.sampled_from(sorted(_paths(base)))
    return json_values | st.builds(replace, st.just(base), keys, json_values)


def _paths(node: object, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}{key}"
            found.add(path)
            found |= _paths(value, path + ".")
    return found


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
INTERNALS = ("Traceback", 'File "', "Error:", "botocore", "Exception")


def assert_safe(answer: object) -> None:
    assert isinstance(answer, dict)
    text = json.dumps(answer, default=str)
    assert not any(marker in text for marker in INTERNALS), text


@SETTINGS
@given(event=mangled(authorizer_event("v1.e30.sig")))
def test_authorizer_denies_whatever_it_gets(functions, event):
    answer = functions.invoke("authorizer", event)
    assert_safe(answer)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"


@SETTINGS
@given(
    event=mangled(
        websocket_event("$connect", "abc=", authorizer={"subject": "s", "subdomain": "fuzz"})
    )
)
def test_connect_never_raises(functions, event):
    answer = functions.invoke("connect", event)
    assert_safe(answer)
    assert answer["statusCode"] in (200, 400, 403, 409)


@SETTINGS
@given(event=mangled(websocket_event("$disconnect", "abc=")))
def test_disconnect_never_raises(functions, event):
    answer = functions.invoke("disconnect", event)
    assert_safe(answer)
    assert answer["statusCode"] in (200, 400)


@SETTINGS
@given(
    event=mangled(websocket_event("$default", "abc=", body='{"action":"ping"}')),
    body=st.one_of(st.none(), st.text(max_size=200), json_values.map(json.dumps)),
)
def test_response_never_raises_nor_stores(functions, event, body):
    if isinstance(event, dict) and body is not None:
        event["body"] = body
    before = len(functions.answers.delivered)
    answer = functions.invoke("response", event)
    assert_safe(answer)
    assert answer["statusCode"] in (200, 400, 403, 404, 410)
    assert len(functions.answers.delivered) == before  # no answer went anywhere


@SETTINGS
@given(event=mangled(http_event("fuzz-nobody", "POST", "/x", "a=1", {"x": "y"}, ["c=1"], b"body")))
def test_forwarding_answers_clearly_whatever_it_gets(functions, event):
    answer = functions.invoke("forwarding", event)
    assert_safe(answer)
    assert answer["statusCode"] in (400, 404, 413)
    assert answer["body"].strip() and len(answer["body"]) < 200
