"""The reply MAC (tunnel_shared.reply) binds a reply address to one request and one agent
connection: any other request, connection, address or key makes it fail."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st
from tunnel_shared import reply

IDS = st.text(alphabet=st.characters(blacklist_characters="\x00"), min_size=1, max_size=40)
KEYS = st.binary(min_size=16, max_size=64)


@given(key=KEYS, request_id=IDS, agent=IDS, reply_to=IDS)
def test_the_mac_verifies_for_its_own_request_agent_and_address(key, request_id, agent, reply_to):
    mac = reply.mac(key, request_id, agent, reply_to)
    assert reply.verify(key, mac, request_id, agent, reply_to)


@given(key=KEYS, other_key=KEYS, request_id=IDS, agent=IDS, reply_to=IDS, other=IDS)
def test_any_other_part_fails(key, other_key, request_id, agent, reply_to, other):
    mac = reply.mac(key, request_id, agent, reply_to)
    if other != request_id:
        assert not reply.verify(key, mac, other, agent, reply_to)
    if other != agent:  # another tunnel's agent echoing this request's fields
        assert not reply.verify(key, mac, request_id, other, reply_to)
    if other != reply_to:  # a forged reply address
        assert not reply.verify(key, mac, request_id, agent, other)
    assume(other_key != key)
    assert not reply.verify(other_key, mac, request_id, agent, reply_to)


def test_missing_or_malformed_fields_fail():
    key = b"k" * 32
    mac = reply.mac(key, "r", "agent=", "me=")
    assert not reply.verify(key, None, "r", "agent=", "me=")
    assert not reply.verify(key, mac, "r", "agent=", None)
    assert not reply.verify(key, 7, "r", "agent=", "me=")
    assert not reply.verify(key, mac, "r\x00agent=", "", "me=")
