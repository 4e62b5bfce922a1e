"""What a review found: one ``StackReview`` per stack, and the ``Review`` of the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from review.iam_diff import RoleDiff
from review.merge import ResourceVerdict

# A stack's state in the review.
CHANGES = "changes"  # a change set is ready to execute
NO_CHANGES = "no_changes"  # CloudFormation and the offline diff agree nothing changes
PENDING = "pending"  # an upstream stack is not deployed yet: no change set can be made
ERROR = "error"  # rendering, packaging or the change set failed


@dataclass
class StackReview:
    name: str  # Sceptre's name: prod/tables
    external_name: str  # CloudFormation's: http-tunnel-prod-tables
    layer: int  # position in the launch order (0 first)
    dependencies: list[str] = field(default_factory=list)
    state: str = PENDING
    exists: bool = False
    change_set_type: str = ""  # CREATE or UPDATE
    change_set_name: str = ""
    change_set_id: str = ""
    change_set_status: str = ""
    change_set_reason: str = ""
    template_sha256: str = ""
    parameters_sha256: str = ""
    inputs_sha256: str = ""
    upstream_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    resources: list[ResourceVerdict] = field(default_factory=list)
    iam: dict[str, RoleDiff] = field(default_factory=dict)
    parameter_changes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    output_changes: dict[str, str] = field(default_factory=dict)
    pending_on: list[str] = field(default_factory=list)
    error: str = ""
    notes: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for resource in self.resources if resource.action == action)

    @property
    def short_name(self) -> str:
        return self.name.split("/", 1)[-1]


@dataclass(frozen=True)
class StackDeletion:
    """A deployed stack of the environment that the configuration no longer launches."""

    external_name: str
    reason: str  # "not in config/<env>/" or "obsolete: true in config/<env>/<stack>.yaml"


@dataclass
class Review:
    environment: str
    created_at: datetime
    stacks: list[StackReview]
    deletions: list[StackDeletion] = field(default_factory=list)

    @property
    def errors(self) -> list[StackReview]:
        return [stack for stack in self.stacks if stack.state == ERROR]

    @property
    def pending(self) -> list[StackReview]:
        return [stack for stack in self.stacks if stack.state == PENDING]

    @property
    def changed(self) -> list[StackReview]:
        return [stack for stack in self.stacks if stack.state == CHANGES]

    @property
    def no_changes(self) -> bool:
        """Nothing to deploy, nothing pending, nothing failed, nothing to delete."""
        return all(stack.state == NO_CHANGES for stack in self.stacks) and not self.deletions


def headline(stack: StackReview) -> str:
    """One line per stack, the same in the terminal and in the Markdown."""
    if stack.state == PENDING:
        waits = ", ".join(stack.pending_on)
        return f"pending: waits for {waits} (not deployed yet); review again once deployed"
    if stack.state == ERROR:
        return f"error: {stack.error}"
    if stack.state == NO_CHANGES:
        return "no changes"
    counts = (
        f"{stack.count('Add')} to add, {stack.count('Modify')} to modify, "
        f"{stack.count('Remove')} to remove"
    )
    return f"{stack.change_set_type} {stack.change_set_name}: {counts}"
