"""The web ACL of a REST API stage, applied locally as AWS WAF applies its rate-based rules.

The edge server finds the stage's web ACL in the emulator (``WebAcl.for_resource``, WAFv2's
``GetWebACLForResource`` on ``arn:aws:apigateway:<region>::/restapis/<id>/stages/<stage>``) and
asks ``check`` before each request: ``None`` lets it through (the default action, Allow), a
response is the blocking rule's, to send instead of calling the integration.

Rules are evaluated in ``Priority`` order, as WAF evaluates them; the first that blocks ends the
evaluation, so later rules do not count that request. A rate-based rule counts each request it
sees under its aggregation key (the client IP, or the custom keys' values after their text
transformations, e.g. the lowercased ``Host``), and blocks once that key has more than ``Limit``
requests in the last ``EvaluationWindowSec`` seconds (``aws_fidelity.rules.check_rate_based_rule``,
with its sources). A ``Count`` action counts without blocking.

Counting is exact: a sliding window over the request times, checked at every request. AWS WAF
estimates the rate instead (weighting recent requests more) and checks it about every 10 s, so
there a flood passes for some seconds, usually under 30, before it is limited ("Rate-based rule
caveats in AWS WAF", https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-caveats.html);
here the request over the limit is the first refused. Tests pass ``now`` themselves.

Not modelled (the web ACL still loads; ``ignored_rules`` names what is skipped): rules that are
not rate-based, scope-down statements, FORWARDED_IP and CONSTANT aggregation, and custom keys
other than IP and Header. The body of WAF's default block (403, no custom response) is not
captured: a plain ``Forbidden`` here.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from aws_fidelity import rules

DEFAULT_BLOCK_STATUS = 403  # WAF's Block without a custom response
CONTENT_TYPES = {
    "TEXT_PLAIN": "text/plain",
    "TEXT_HTML": "text/html",
    "APPLICATION_JSON": "application/json",
}
# Text transformations for aggregation keys (API_TextTransformation); others are not modelled.
TRANSFORMATIONS: dict[str, Callable[[str], str]] = {
    "NONE": lambda text: text,
    "LOWERCASE": str.lower,
    "UPPERCASE": str.upper,
    "TRIM": str.strip,
    "COMPRESS_WHITE_SPACE": lambda text: re.sub(r"\s+", " ", text),
}
# Keys idle for a whole window are dropped every this many checks, so memory follows traffic.
SWEEP_EVERY = 1024

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
# (client IP, lowercased headers) -> the aggregation key, or None without its component.
KeyFunction = Callable[[str, dict[str, str]], tuple[str, ...] | None]


@dataclass(frozen=True)
class BlockResponse:
    """What a blocking rule answers: status, headers and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def to_aiohttp(self) -> web.Response:
        return web.Response(status=self.status, headers=list(self.headers), body=self.body)


class RateRule:
    """One rate-based rule: its aggregation, limit, window and action."""

    def __init__(self, rule: dict[str, Any], bodies: dict[str, Any]) -> None:
        self.name = str(rule["Name"])
        self.priority = int(rule.get("Priority", 0))
        statement = rule["Statement"]["RateBasedStatement"]
        self.limit = int(statement["Limit"])
        self.window = float(
            statement.get("EvaluationWindowSec", rules.WAF_DEFAULT_EVALUATION_WINDOW_SECONDS)
        )
        self.key = _key_function(statement)
        action = rule.get("Action") or {}
        self.counts_only = "Count" in action
        self.response = None if self.counts_only else _block_response(action["Block"], bodies)
        self._times: dict[tuple[str, ...], deque[float]] = {}

    def over_limit(self, client_ip: str, headers: dict[str, str], now: float) -> bool:
        """Count this request under its key; whether the key is now over the limit."""
        key = self.key(client_ip, headers)
        if key is None:
            return False  # a request without the key's component is not counted
        # The last limit + 1 times tell whether more than ``limit`` fall in the window.
        times = self._times.setdefault(key, deque(maxlen=self.limit + 1))
        while times and times[0] <= now - self.window:
            times.popleft()
        times.append(now)
        try:
            rules.check_rate_based_rule(len(times), self.limit)
        except rules.Refused:
            return True
        return False

    def sweep(self, now: float) -> None:
        idle = [
            key for key, times in self._times.items() if not times or times[-1] <= now - self.window
        ]
        for key in idle:
            del self._times[key]


class WebAcl:
    """A web ACL (as ``GetWebACL``/``GetWebACLForResource`` describe it), applied locally."""

    def __init__(self, description: dict[str, Any]) -> None:
        self.name = str(description.get("Name", ""))
        bodies = description.get("CustomResponseBodies") or {}
        self.rate_rules: list[RateRule] = []
        self.ignored_rules: list[str] = []
        for rule in sorted(description.get("Rules") or [], key=lambda r: int(r.get("Priority", 0))):
            try:
                self.rate_rules.append(RateRule(rule, bodies))
            except (KeyError, ValueError, TypeError):
                self.ignored_rules.append(str(rule.get("Name", "?")))
        default = description.get("DefaultAction") or {"Allow": {}}
        self.default_block = (
            _block_response(default["Block"], bodies) if "Block" in default else None
        )
        self._checks = 0

    @classmethod
    def for_resource(cls, wafv2: Any, resource_arn: str) -> WebAcl | None:
        """The web ACL associated with ``resource_arn`` (a REST API stage), or None."""
        found = wafv2.get_web_acl_for_resource(ResourceArn=resource_arn).get("WebACL")
        return cls(found) if found else None

    def check(self, client_ip: str, headers: Headers, now: float) -> BlockResponse | None:
        """The response of the rule that blocks this request, or None to let it through."""
        lowered = _lowered(headers)
        self._checks += 1
        if self._checks % SWEEP_EVERY == 0:
            for rule in self.rate_rules:
                rule.sweep(now)
        for rule in self.rate_rules:
            if rule.over_limit(client_ip, lowered, now) and rule.response is not None:
                return rule.response
        return self.default_block


def _lowered(headers: Headers) -> dict[str, str]:
    """Header names are case-insensitive; the first value of a repeated header counts."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    lowered: dict[str, str] = {}
    for name, value in items:
        lowered.setdefault(name.lower(), value)
    return lowered


def _transform(text: str, transformations: list[dict[str, Any]]) -> str:
    for step in sorted(transformations, key=lambda t: int(t.get("Priority", 0))):
        text = TRANSFORMATIONS[str(step["Type"])](text)  # KeyError: not modelled
    return text


def _key_function(statement: dict[str, Any]) -> KeyFunction:
    if statement.get("ScopeDownStatement"):
        raise ValueError("scope-down statements are not modelled")
    kind = statement.get("AggregateKeyType", "IP")
    if kind == "IP":
        return lambda client_ip, headers: (client_ip,)
    if kind != "CUSTOM_KEYS":
        raise ValueError(f"AggregateKeyType {kind} is not modelled")
    parts: list[KeyFunction] = []
    for custom in statement.get("CustomKeys") or []:
        if "IP" in custom:
            parts.append(lambda client_ip, headers: (client_ip,))
        elif "Header" in custom:
            parts.append(_header_key(custom["Header"]))
        else:
            raise ValueError(f"custom key {sorted(custom)} is not modelled")
    if not parts:
        raise ValueError("CUSTOM_KEYS without keys")

    def combined(client_ip: str, headers: dict[str, str]) -> tuple[str, ...] | None:
        key: tuple[str, ...] = ()
        for part in parts:
            value = part(client_ip, headers)
            if value is None:
                return None  # missing any component: the request is not counted
            key += value
        return key

    return combined


def _header_key(header: dict[str, Any]) -> KeyFunction:
    name = str(header["Name"]).lower()
    steps = list(header.get("TextTransformations") or [])
    _transform("", steps)  # an unknown transformation refuses the rule now

    def key(client_ip: str, headers: dict[str, str]) -> tuple[str, ...] | None:
        value = headers.get(name)
        return None if value is None else (_transform(value, steps),)

    return key


def _block_response(block: dict[str, Any], bodies: dict[str, Any]) -> BlockResponse:
    custom = (block or {}).get("CustomResponse")
    if not custom:
        return BlockResponse(DEFAULT_BLOCK_STATUS, (("Content-Type", "text/plain"),), b"Forbidden")
    headers = [(str(h["Name"]), str(h["Value"])) for h in custom.get("ResponseHeaders") or []]
    body = b""
    key = custom.get("CustomResponseBodyKey")
    if key:
        entry = bodies[key]
        headers.append(("Content-Type", CONTENT_TYPES[str(entry["ContentType"])]))
        body = str(entry["Content"]).encode()
    return BlockResponse(int(custom["ResponseCode"]), tuple(headers), body)
