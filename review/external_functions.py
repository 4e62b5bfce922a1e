"""A function switched between ours and an existing one (``existing_functions``), in words.

The functions stack then removes (or adds) the function, its role and its log group, and its
``<Name>FunctionArn`` output turns from ``!GetAtt <Name>Function.Arn`` into the existing ARN (or
back). The resource list shows the removals, and the gate blocks on the log group's; this says
what they mean: the function's code, role and logs are now someone else's, outside this review.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LAMBDA_FUNCTION = "AWS::Lambda::Function"


def switches(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """One note per function that became external, or ours again, between two templates."""
    if not old:
        return []  # a new stack: nothing switched
    before_outputs = old.get("Outputs") or {}
    after_outputs = new.get("Outputs") or {}
    notes = []
    for key in sorted(set(before_outputs) & set(after_outputs)):
        before = _value(before_outputs[key])
        after = _value(after_outputs[key])
        ours_before = _function_arn_of(before, old)
        ours_after = _function_arn_of(after, new)
        if ours_before and _literal_arn(after):
            removed = _removed_with(ours_before, old, new)
            notes.append(
                f"{ours_before} is now external: {key} names {after}, a function this stack "
                f"neither creates nor deploys (existing_functions); removed with it: "
                f"{', '.join(removed)}. Its code, role and logs are its owner's and outside this "
                "review and the least-privilege tests; its role needs the grants in the "
                f"stack's {key.removesuffix('FunctionArn')}NeedsPolicy output"
            )
        elif ours_after and _literal_arn(before):
            notes.append(
                f"{ours_after} is ours again: created from functions/ in place of the existing "
                f"function {before}, which this stack leaves as it is"
            )
    return notes


def _value(output: Any) -> Any:
    return output.get("Value") if isinstance(output, Mapping) else None


def _literal_arn(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("arn:") and ":lambda:" in value


def _function_arn_of(value: Any, template: Mapping[str, Any]) -> str | None:
    """The logical id of a function of ``template`` whose ARN ``value`` is (``!GetAtt X.Arn``)."""
    target = value.get("Fn::GetAtt") if isinstance(value, Mapping) else None
    if isinstance(target, str):
        target = target.split(".", 1)
    if not isinstance(target, list) or len(target) != 2 or target[1] != "Arn":
        return None
    resource = (template.get("Resources") or {}).get(target[0]) or {}
    return target[0] if resource.get("Type") == LAMBDA_FUNCTION else None


def _removed_with(logical_id: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The function and the resources named after it (its role, its log group) that ``new``
    drops: ``ForwardingFunction`` takes ``ForwardingRole`` and ``ForwardingLogGroup`` along."""
    stem = logical_id.removesuffix("Function")
    kept = new.get("Resources") or {}
    return sorted(
        resource
        for resource in (old.get("Resources") or {})
        if resource.startswith(stem) and resource not in kept
    )
