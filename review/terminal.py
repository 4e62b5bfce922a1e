"""The terminal summary: per stack, counts and a coloured list; then the verdict."""

from __future__ import annotations

from review.drift import StackDrift, summary
from review.gate import Finding
from review.merge import ResourceVerdict
from review.stack_review import CHANGES, ERROR, NO_CHANGES, PENDING, Review, headline
from tunnel_infra import local_stack

_CODES = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}
_SYMBOL = {"Add": "+", "Modify": "~", "Remove": "-"}
_ACTION_COLOUR = {"Add": "green", "Modify": "yellow", "Remove": "red"}
_STATE_COLOUR = {CHANGES: "yellow", NO_CHANGES: "green", PENDING: "blue", ERROR: "red"}


class Painter:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        codes = ";".join(_CODES[style] for style in styles)
        return f"\033[{codes}m{text}\033[0m"


def _resource_lines(resource: ResourceVerdict, paint: Painter) -> list[str]:
    symbol = _SYMBOL.get(resource.action, "?")
    colour = _ACTION_COLOUR.get(resource.action, "yellow")
    verdict = ""
    if resource.replaced:
        verdict = paint(f"  REPLACE ({resource.replacement})", "red", "bold")
    stateful = paint("  [stateful]", "dim") if resource.stateful else ""
    lines = [
        f"  {paint(symbol + ' ' + resource.logical_id, colour)}  "
        f"{paint(resource.resource_type, 'dim')}{verdict}{stateful}"
    ]
    lines += [f"      {path}" for path in resource.paths]
    lines += [f"      predicted: {reason}" for reason in resource.predicted_reasons]
    if resource.cloudformation_details:
        lines.append(f"      CloudFormation: {'; '.join(resource.cloudformation_details)}")
    if resource.disagreement:
        lines.append("      " + paint(f"disagree: {resource.disagreement}", "red"))
    return lines


def render(
    review: Review,
    findings: list[Finding],
    written: list[str],
    colour: bool = True,
    warnings: list[str] | None = None,
    drift: list[StackDrift] | None = None,
) -> str:
    paint = Painter(colour)
    lines = [
        paint(f"Review of {review.environment}", "bold")
        + f"  ({review.created_at:%Y-%m-%d %H:%M} UTC)",
        "",
    ]
    width = max((len(stack.name) for stack in review.stacks), default=10)
    for stack in review.stacks:
        state = paint(headline(stack), _STATE_COLOUR.get(stack.state, "bold"))
        lines.append(f"{paint(stack.name.ljust(width), 'cyan', 'bold')}  {state}")
        for resource in stack.resources:
            lines += _resource_lines(resource, paint)
        for name, (before, after) in stack.parameter_changes.items():
            lines.append(paint(f"    parameter {name}: {before} -> {after}", "dim"))
        for key, action in stack.output_changes.items():
            lines.append(paint(f"    output {key}: {action}", "dim"))
        for role, diff in stack.iam.items():
            kind = "BROADENING" if diff.broadening else "narrowing"
            lines.append(
                "  IAM " + role + ": " + paint(kind, "red" if diff.broadening else "green")
            )
            lines += [
                "      " + paint(f"+ {action}  {resource}", "red")
                for action, resource in diff.added
            ]
            lines += [
                "      " + paint(f"- {action}  {resource}", "green")
                for action, resource in diff.removed
            ]
        lines += [paint(f"    note: {note}", "dim") for note in stack.notes]
    for deletion in review.deletions:
        lines.append(paint(f"- stack {deletion.external_name}: DELETE ({deletion.reason})", "red"))
    if drift is not None:
        lines += _drift_lines(drift, paint)
    lines.append("")
    blocked = [f for f in findings if not f.approved and not f.pending]
    approved = [f for f in findings if f.approved and not f.pending]
    later = [f for f in findings if f.pending]
    if blocked:
        lines.append(paint("Blocked until approved by name:", "red", "bold"))
        lines += [f"  x {f.stack}: {f.message}   ->  {f.approve_with}" for f in blocked]
    if approved:
        lines.append(paint("Approved:", "green"))
        lines += [f"  ok {f.stack}: {f.message}  ({f.approve_with})" for f in approved]
    if later:
        lines.append(paint("Gated once their stacks can be reviewed (pending):", "blue"))
        lines += [f"  .. {f.stack}: {f.message}  ({f.approve_with})" for f in later]
    lines += [paint(f"warning: {warning}", "yellow") for warning in warnings or []]
    lines += [f"Written {path}" for path in written]
    lines.append(_result(review, blocked, paint))
    return "\n".join(lines) + "\n"


def _drift_lines(stacks: list[StackDrift], paint: Painter) -> list[str]:
    """Drift of the deployed stacks: shown, never gating (make drift fails on it)."""
    lines = ["", paint(f"Drift (not gating; make drift fails on it): {summary(stacks)}", "bold")]
    for stack in stacks:
        if stack.failed:
            lines.append(paint(f"  {stack.name}: {stack.skipped}", "red"))
        for drift in stack.drifts:
            lines.append("  " + paint(drift.line, "dim" if drift.explained else "yellow"))
    return lines


def _result(review: Review, blocked: list[Finding], paint: Painter) -> str:
    if review.errors:
        names = ", ".join(stack.name for stack in review.errors)
        return paint(f"Result: ERROR in {names}", "red", "bold")
    if blocked:
        return paint(f"Result: BLOCKED ({len(blocked)} change(s) need approval)", "red", "bold")
    if review.no_changes:
        return paint("Result: no changes", "green", "bold")
    pending = f"; {len(review.pending)} stack(s) pending" if review.pending else ""
    command = deploy_command(review.environment)
    return paint(
        f"Result: ready to deploy {len(review.changed)} stack(s){pending}: {command}",
        "green",
        "bold",
    )


def deploy_command(environment: str) -> str:
    """The command that deploys this review, as it works in a fresh shell."""
    if local_stack.is_local():
        return local_stack.make_command("deploy-local")
    if environment == "dev":
        # make deploy ENV=dev launches without a review; the reviewed deploy is the module's.
        return f".venv/bin/python -m review deploy {environment}"
    return f"make deploy ENV={environment}"
