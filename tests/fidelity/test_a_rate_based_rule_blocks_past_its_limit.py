"""rules.check_rate_based_rule: a rate-based rule applies its action to a request of an
aggregation instance once that instance has more than Limit requests in the window, this one
included; the local gateway's web ACL (local_gateway/waf.py) applies it per client IP and per
Host. Without it the local stack let every flood through."""

from __future__ import annotations

import pytest

from aws_fidelity import rules
from local_gateway.waf import WebAcl

WINDOW = 60
ACL = {
    "Name": "edge",
    "DefaultAction": {"Allow": {}},
    "CustomResponseBodies": {"slow-down": {"ContentType": "TEXT_PLAIN", "Content": "slow down"}},
    "Rules": [
        {
            "Name": "per-client",
            "Priority": 0,
            "Statement": {
                "RateBasedStatement": {
                    "AggregateKeyType": "IP",
                    "Limit": 10,
                    "EvaluationWindowSec": WINDOW,
                }
            },
            "Action": {
                "Block": {
                    "CustomResponse": {"ResponseCode": 429, "CustomResponseBodyKey": "slow-down"}
                }
            },
        }
    ],
}


def test_the_rule() -> None:
    rules.check_rate_based_rule(10, 10)  # at the limit: not over it
    with pytest.raises(rules.Refused) as refused:
        rules.check_rate_based_rule(11, 10)
    assert (refused.value.code, refused.value.status) == ("RateLimited", 429)


def test_the_local_web_acl_blocks_the_request_past_the_limit_in_its_window() -> None:
    acl = WebAcl(ACL)
    assert [acl.check("192.0.2.1", {}, 100.0 + i) for i in range(10)] == [None] * 10
    blocked = acl.check("192.0.2.1", {}, 109.5)
    assert blocked is not None and (blocked.status, blocked.body) == (429, b"slow down")
    assert acl.check("192.0.2.2", {}, 109.5) is None  # another aggregation instance
    # The first requests leave the window: the ones of 100.0 and 101.0 are out at 161.0.
    assert acl.check("192.0.2.1", {}, 161.0) is None
