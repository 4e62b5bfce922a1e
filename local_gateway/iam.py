"""The two IAM decisions API Gateway makes for us: may it invoke a function (the function's
resource policy, i.e. its ``AWS::Lambda::Permission`` resources), and does an authorizer's
policy let the caller in.

Only what those policies use is evaluated: Allow/Deny, Action, Resource, the Lambda service
principal and the ``AWS:SourceArn`` / ``AWS:SourceAccount`` conditions. Anything else makes a
statement not apply, so an unexpected policy fails closed, as an unexpected one would in AWS.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

API_GATEWAY = "apigateway.amazonaws.com"


@lru_cache(maxsize=512)
def _pattern(glob: str, case_sensitive: bool) -> re.Pattern[str]:
    # IAM wildcards: '*' any run of characters (across '/' and ':'), '?' one character.
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in glob
    )
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


def matches(glob: str, value: str, case_sensitive: bool = True) -> bool:
    return _pattern(glob, case_sensitive).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(policy: Any) -> list[dict[str, Any]]:
    if not isinstance(policy, dict):
        return []
    return [s for s in _as_list(policy.get("Statement")) if isinstance(s, dict)]


def _action_applies(statement: dict[str, Any], action: str) -> bool:
    return any(
        isinstance(a, str) and matches(a, action, case_sensitive=False)
        for a in _as_list(statement.get("Action"))
    )


def _resource_applies(statement: dict[str, Any], resource: str) -> bool:
    return any(
        isinstance(r, str) and matches(r, resource) for r in _as_list(statement.get("Resource"))
    )


def _decide(applicable: list[dict[str, Any]]) -> bool:
    """Explicit Deny wins, then an Allow is needed (IAM's evaluation order)."""
    effects = {s.get("Effect") for s in applicable}
    return "Deny" not in effects and "Allow" in effects


def policy_allows_invoke(policy: Any, method_arn: str) -> bool:
    """Does an authorizer's ``policyDocument`` allow ``execute-api:Invoke`` on ``method_arn``?"""
    applicable = [
        s
        for s in _statements(policy)
        if _action_applies(s, "execute-api:Invoke") and _resource_applies(s, method_arn)
    ]
    return _decide(applicable)


def _principal_is_api_gateway(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return API_GATEWAY in _as_list(principal.get("Service")) or "*" in _as_list(
            principal.get("AWS")
        )
    return False


_CONDITION_TESTS = {
    "ArnLike": lambda expected, actual: matches(expected, actual),
    "ArnEquals": lambda expected, actual: matches(expected, actual),
    "StringLike": lambda expected, actual: matches(expected, actual),
    "StringEquals": lambda expected, actual: expected == actual,
}


def _conditions_hold(statement: dict[str, Any], context: dict[str, str]) -> bool:
    conditions = statement.get("Condition") or {}
    if not isinstance(conditions, dict):
        return False
    for operator, tests in conditions.items():
        test = _CONDITION_TESTS.get(operator)
        if test is None or not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None or not any(
                isinstance(e, str) and test(e, actual) for e in _as_list(expected)
            ):
                return False
    return True


def api_gateway_may_invoke(
    policy: Any, function_arn: str, source_arn: str, account_id: str
) -> bool:
    """Does a function's resource policy let API Gateway invoke it from ``source_arn``?"""
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": account_id}
    applicable = [
        s
        for s in _statements(policy)
        if _principal_is_api_gateway(s)
        and _action_applies(s, "lambda:InvokeFunction")
        and (s.get("Resource") is None or _resource_applies(s, function_arn))
        and _conditions_hold(s, context)
    ]
    return _decide(applicable)
