"""Make a no-op UpdateStack fail the way real CloudFormation does.

Real CloudFormation answers an UpdateStack whose template, parameter values and
tags all equal the stack's current ones with HTTP 400 ``ValidationError``
"No updates are to be performed." (Sceptre treats exactly that as success).
moto 5.2.5 has a check for it (``CloudFormationResponse._validate_different_update``)
but it only runs when Parameters are sent, compares the raw template text, and
compares raw input strings with *resolved* values (Number parameters become
ints, so "5" != 5) - so in practice moto reports UPDATE_COMPLETE.

That method is patched here because it is the one place where both the
UpdateStack and CreateChangeSet handlers validate against the old stack, after
moto has already resolved TemplateURL / UsePreviousTemplate into a body.
CreateChangeSet keeps moto's behaviour (AWS creates a FAILED change set there
instead, which is a different story).
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Stack
from moto.cloudformation.responses import CloudFormationResponse

NO_UPDATES = "No updates are to be performed."

_original_validate = CloudFormationResponse._validate_different_update


def _effective_parameters(template: dict[str, Any], given: dict[str, Any]) -> dict[str, str]:
    """Parameter values a stack would run with: template defaults, overridden by
    the given values, compared as the strings the API carries."""
    values = {
        name: slot["Default"]
        for name, slot in (template.get("Parameters") or {}).items()
        if "Default" in slot
    }
    values.update(given)
    return {name: str(value) for name, value in values.items()}


def _requested_parameters(
    incoming: list[dict[str, Any]], previous: dict[str, str]
) -> dict[str, Any]:
    requested = {}
    for param in incoming:
        key = param["ParameterKey"]
        if param.get("UsePreviousValue"):
            requested[key] = previous.get(key)
        elif "ParameterValue" in param:
            requested[key] = param["ParameterValue"]
    return requested


def is_noop_update(
    response: CloudFormationResponse,
    incoming_params: list[dict[str, Any]] | None,
    stack_body: str | None,
    old_stack: Stack,
) -> bool:
    if not stack_body:
        return False
    # Compare documents, not text: re-serialising the same template is no change.
    new_template = Stack.parse_template(stack_body)
    old_template = Stack.parse_template(old_stack.template)  # type: ignore[arg-type]
    if new_template != old_template:
        return False
    old_values = _effective_parameters(old_template, old_stack.parameters)
    new_values = _effective_parameters(
        new_template, _requested_parameters(incoming_params or [], old_values)
    )
    if new_values != old_values:
        return False
    # Tags: omitted = keep the current ones (moto does the same).
    tags = {t["Key"]: t["Value"] for t in response._get_param("Tags", [])}
    return not tags or tags == old_stack.tags


def _validate_different_update(
    self: CloudFormationResponse,
    incoming_params: list[dict[str, Any]] | None,
    stack_body: str,
    old_stack: Stack,
) -> None:
    if self._get_action() != "UpdateStack":
        _original_validate(self, incoming_params, stack_body, old_stack)
        return
    if is_noop_update(self, incoming_params, stack_body, old_stack):
        raise ValidationError(old_stack.name, message=NO_UPDATES)


def install() -> None:
    CloudFormationResponse._validate_different_update = _validate_different_update  # type: ignore[method-assign]
