"""The gate: which findings block a deploy until approved by name, and the exit codes.

Blocking, unless approved:
- a stateful resource (DynamoDB table, KMS key, S3 bucket, log group, secret) replaced - by
  CloudFormation's verdict or the offline prediction, True or Conditional - or removed:
  ``--allow-replace LOGICAL_ID`` (or ``STACK/LOGICAL_ID``), repeatable;
- any IAM broadening: ``--approve-broadening``;
- a stack deletion: ``--allow-delete STACK_NAME``, repeatable.

Findings of a pending stack (no change set yet: its upstream is not deployed) are shown but do
not block: deploy will not touch it, and the review that gives it a change set gates it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from review.stack_review import PENDING, Review

# Exit codes of ``python -m review plan`` (deploy uses OK, ERROR and REFUSED).
OK = 0
ERROR = 1  # something could not be reviewed (or, for deploy, failed while executing)
BLOCKED = 2  # a destructive or broadening change is not approved
REFUSED = 3  # deploy: the review does not match what would be deployed now

REPLACEMENT, REMOVAL, BROADENING, DELETION = "replacement", "removal", "broadening", "deletion"


@dataclass(frozen=True)
class Approvals:
    replace: frozenset[str] = frozenset()
    broadening: bool = False
    delete: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Finding:
    kind: str  # replacement, removal, broadening or deletion
    stack: str  # Sceptre name (prod/tables) or, for a deletion, the CloudFormation name
    subject: str  # logical id, role, or stack
    message: str
    approve_with: str  # the flag that approves it
    approved: bool
    pending: bool = False  # its stack gets no change set yet: gated when reviewed again


def _replace_approved(approvals: Approvals, stack: str, logical_id: str) -> bool:
    short = stack.split("/", 1)[-1]
    return bool({logical_id, f"{short}/{logical_id}", f"{stack}/{logical_id}"} & approvals.replace)


def evaluate(review: Review, approvals: Approvals) -> list[Finding]:
    findings = []
    for stack in review.stacks:
        pending = stack.state == PENDING
        for resource in stack.resources:
            if not resource.stateful:
                continue
            approved = _replace_approved(approvals, stack.name, resource.logical_id)
            flag = f"--allow-replace {resource.logical_id}"
            if resource.action == "Remove" or resource.cloudformation_action == "Remove":
                findings.append(
                    Finding(
                        REMOVAL,
                        stack.name,
                        resource.logical_id,
                        f"{resource.resource_type} {resource.logical_id} would be removed",
                        flag,
                        approved,
                        pending,
                    )
                )
            elif resource.replaced:
                how = "replaced" if resource.replacement == "True" else "possibly replaced"
                findings.append(
                    Finding(
                        REPLACEMENT,
                        stack.name,
                        resource.logical_id,
                        f"{resource.resource_type} {resource.logical_id} would be {how}",
                        flag,
                        approved,
                        pending,
                    )
                )
        for role, diff in stack.iam.items():
            if diff.broadening:
                findings.append(
                    Finding(
                        BROADENING,
                        stack.name,
                        role,
                        f"IAM policy of {role} gains {len(diff.broader)} permission(s)",
                        "--approve-broadening",
                        approvals.broadening,
                        pending,
                    )
                )
    for deletion in review.deletions:
        approved = deletion.external_name in approvals.delete
        findings.append(
            Finding(
                DELETION,
                deletion.external_name,
                deletion.external_name,
                f"stack {deletion.external_name} would be deleted ({deletion.reason})",
                f"--allow-delete {deletion.external_name}",
                approved,
            )
        )
    return findings


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """Unapproved findings of what deploy would execute now (pending stacks wait their turn)."""
    return [finding for finding in findings if not finding.approved and not finding.pending]


def unused_approvals(review: Review, approvals: Approvals) -> list[str]:
    """Approvals that matched nothing: probably a typo, worth a warning."""
    used_ids = {
        name
        for stack in review.stacks
        for resource in stack.resources
        for name in (
            resource.logical_id,
            f"{stack.short_name}/{resource.logical_id}",
            f"{stack.name}/{resource.logical_id}",
        )
    }
    deletions = {deletion.external_name for deletion in review.deletions}
    unused = [f"--allow-replace {r} matched nothing" for r in sorted(approvals.replace - used_ids)]
    unused += [f"--allow-delete {d} matched nothing" for d in sorted(approvals.delete - deletions)]
    return unused


def exit_code(review: Review, findings: Iterable[Finding]) -> int:
    if review.errors:
        return ERROR
    if blocking(findings):
        return BLOCKED
    return OK
