"""Resource names and API endpoints, said once in tunnel_shared.names."""

from hypothesis import given
from hypothesis import strategies as st
from tunnel_shared import names

words = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)


@given(thing=words, environment=words)
def test_a_things_name_gives_the_thing_back(thing: str, environment: str) -> None:
    assert names.thing_of(names.resource_name(thing, environment), environment) == thing


def test_a_name_of_another_environment_is_not_ours() -> None:
    assert names.thing_of("http-tunnel-connect-prod", "dev") is None
    assert names.thing_of("other-connect-dev", "dev") is None


def test_stacks_are_named_as_sceptre_names_them() -> None:
    assert names.stack_name("dev", "apis") == "http-tunnel-dev-apis"
    assert names.stack_name("dev", "apis").startswith(names.stack_prefix("dev"))


def test_the_execute_api_host_follows_the_partition() -> None:
    assert names.execute_api_host("abc", "eu-west-1") == "abc.execute-api.eu-west-1.amazonaws.com"
    assert (
        names.execute_api_host("abc", "cn-north-1") == "abc.execute-api.cn-north-1.amazonaws.com.cn"
    )
