"""Merge CloudFormation's verdicts with the offline prediction, resource by resource.

CloudFormation knows things the template alone cannot say (dynamic references, resources whose
provider replaces them anyway); the offline prediction knows the documented "Update requires:
Replacement" properties and works where no change set can be made yet. Each resource keeps both
verdicts; the one that counts for the gate is the worse of the two, and a disagreement is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from review.change_sets import ChangeSetOutcome, ResourceChange
from review.replacement import (
    REPLACEMENT_CONDITIONAL,
    REPLACEMENT_FALSE,
    REPLACEMENT_TRUE,
    ResourcePrediction,
    is_stateful,
)
from review.template_diff import ResourceDiff

_SEVERITY = {"": 0, REPLACEMENT_FALSE: 0, REPLACEMENT_CONDITIONAL: 1, REPLACEMENT_TRUE: 2}


@dataclass(frozen=True)
class ResourceVerdict:
    logical_id: str
    resource_type: str
    action: str  # Add, Modify or Remove (the offline action when both know the resource)
    physical_id: str = ""
    paths: tuple[str, ...] = ()  # changed property paths, each with its cause
    predicted: str = ""  # offline Replacement: True, False, Conditional ("" = no prediction)
    predicted_reasons: tuple[str, ...] = ()
    cloudformation: str = ""  # CloudFormation's Replacement ("" = not in a change set)
    cloudformation_action: str = ""
    cloudformation_details: tuple[str, ...] = ()
    offline_listed: bool = True  # False: only CloudFormation reports this resource

    @property
    def replacement(self) -> str:
        """The verdict that counts: the worse of the two."""
        return max(self.predicted, self.cloudformation, key=lambda v: _SEVERITY.get(v, 0)) or ""

    @property
    def replaced(self) -> bool:
        return self.replacement in (REPLACEMENT_TRUE, REPLACEMENT_CONDITIONAL)

    @property
    def disagreement(self) -> str:
        """Why the two sources differ, or "" when they agree."""
        if not self.offline_listed:
            return "only CloudFormation reports this change (not visible in the template diff)"
        if self.cloudformation_action and self.cloudformation_action != self.action:
            return f"CloudFormation: {self.cloudformation_action}, offline: {self.action}"
        if (
            self.predicted
            and self.cloudformation
            and _SEVERITY[self.predicted] != _SEVERITY[self.cloudformation]
        ):
            return (
                f"Replacement: CloudFormation says {self.cloudformation}, "
                f"offline prediction says {self.predicted}"
            )
        return ""

    @property
    def stateful(self) -> bool:
        return is_stateful(self.resource_type)


def merge(
    offline: Iterable[tuple[ResourceDiff, ResourcePrediction | None]],
    outcome: ChangeSetOutcome | None,
) -> list[ResourceVerdict]:
    """One verdict per resource either source lists, sorted by logical id."""
    cloudformation: dict[str, ResourceChange] = {}
    if outcome is not None:
        cloudformation = {change.logical_id: change for change in outcome.changes}
    verdicts = []
    seen = set()
    for diff, prediction in offline:
        seen.add(diff.logical_id)
        change = cloudformation.get(diff.logical_id)
        verdicts.append(
            ResourceVerdict(
                logical_id=diff.logical_id,
                resource_type=diff.resource_type,
                action=diff.action,
                physical_id=change.physical_id if change else "",
                paths=tuple(f"{c.text} ({c.cause})" for c in diff.changes),
                predicted=prediction.replacement if prediction else "",
                predicted_reasons=prediction.reasons if prediction else (),
                cloudformation=change.replacement if change else "",
                cloudformation_action=change.action if change else "",
                cloudformation_details=tuple(d.text for d in change.details) if change else (),
            )
        )
    for logical_id, change in cloudformation.items():
        if logical_id in seen:
            continue
        verdicts.append(
            ResourceVerdict(
                logical_id=logical_id,
                resource_type=change.resource_type,
                action=change.action,
                physical_id=change.physical_id,
                cloudformation=change.replacement,
                cloudformation_action=change.action,
                cloudformation_details=tuple(d.text for d in change.details),
                offline_listed=False,
            )
        )
    return sorted(verdicts, key=lambda v: v.logical_id)
