"""``build/review/<env>.md``: the review, ready to paste into a pull request."""

from __future__ import annotations

from review.drift import EXPLAINED, StackDrift, summary
from review.gate import Finding
from review.merge import ResourceVerdict
from review.stack_review import Review, StackReview, headline

_ICON = {"Add": "➕", "Modify": "✏️", "Remove": "➖"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _replacement(resource: ResourceVerdict) -> str:
    if resource.action != "Modify" and not resource.cloudformation:
        return ""
    verdict = resource.replacement or "False"
    shown = f"**{verdict}**" if resource.replaced else verdict
    sources = []
    if resource.cloudformation:
        sources.append(f"CloudFormation: {resource.cloudformation}")
    if resource.predicted:
        sources.append(f"predicted: {resource.predicted}")
    detail = f" ({'; '.join(sources)})" if sources else ""
    warning = " ⚠️ disagree" if resource.disagreement else ""
    return shown + detail + warning


def _stack_section(stack: StackReview) -> list[str]:
    lines = [f"### `{stack.name}` (`{stack.external_name}`)", "", headline(stack), ""]
    if stack.resources:
        lines += [
            "| | Resource | Type | Replacement | Changed |",
            "|---|---|---|---|---|",
        ]
        for resource in stack.resources:
            changed = "<br>".join(_cell(p) for p in resource.paths)
            reasons = "<br>".join(_cell(r) for r in resource.predicted_reasons)
            if resource.disagreement:
                reasons = "<br>".join(filter(None, [reasons, _cell(resource.disagreement)]))
            stateful = " (stateful)" if resource.stateful else ""
            lines.append(
                f"| {_ICON.get(resource.action, resource.action)} {resource.action} "
                f"| `{resource.logical_id}`{stateful} | {resource.resource_type} "
                f"| {_cell(_replacement(resource))}{'<br>' + reasons if reasons else ''} "
                f"| {changed} |"
            )
        lines.append("")
    if stack.iam:
        lines += [
            "| IAM policy of (role, user, group or resource) | | Action | Resource |",
            "|---|---|---|---|",
        ]
        for role, diff in stack.iam.items():
            kind = "**broadening**" if diff.broadening else "narrowing"
            for action, resource in diff.added:
                lines.append(f"| `{role}` ({kind}) | ➕ | `{action}` | `{_cell(resource)}` |")
            for action, resource in diff.removed:
                lines.append(f"| `{role}` ({kind}) | ➖ | `{action}` | `{_cell(resource)}` |")
        lines.append("")
    if stack.parameter_changes:
        lines += ["| Parameter | Deployed | Rendered |", "|---|---|---|"]
        for name, (before, after) in stack.parameter_changes.items():
            lines.append(f"| `{name}` | `{before}` | `{after}` |")
        lines.append("")
    if stack.output_changes:
        changes = ", ".join(f"`{key}` ({action})" for key, action in stack.output_changes.items())
        lines += [f"Outputs: {changes}", ""]
    lines += [f"> {note}" for note in stack.notes]
    if stack.notes:
        lines.append("")
    return lines


def _drift_section(stacks: list[StackDrift]) -> list[str]:
    """A section per drifted stack (not gating: make drift fails on it)."""
    lines = ["### Drift", "", f"{summary(stacks)} (not gating; `make drift` fails on it).", ""]
    for stack in stacks:
        if not stack.drifts and not stack.failed:
            continue
        lines += [f"#### `{stack.name}` (`{stack.external_name}`)", ""]
        if stack.failed:
            lines += [f"> {_cell(stack.skipped)}", ""]
        if stack.drifts:
            lines += [
                "| Resource | Type | Property | Expected | Actual | |",
                "|---|---|---|---|---|---|",
            ]
            for drift in stack.drifts:
                note = EXPLAINED if drift.explained else "**drift**"
                path = drift.path or drift.status
                lines.append(
                    f"| `{drift.logical_id}` | {drift.resource_type} | `{_cell(path)}` "
                    f"| `{_cell(drift.expected)}` | `{_cell(drift.actual)}` | {note} |"
                )
            lines.append("")
    return lines


def render(review: Review, findings: list[Finding], drift: list[StackDrift] | None = None) -> str:
    blocked = [f for f in findings if not f.approved and not f.pending]
    approved = [f for f in findings if f.approved and not f.pending]
    later = [f for f in findings if f.pending]
    if review.errors:
        verdict = "❌ **Errors**: " + ", ".join(f"`{s.name}`" for s in review.errors)
    elif blocked:
        verdict = f"⛔ **Blocked**: {len(blocked)} change(s) need approval by name"
    elif review.no_changes:
        verdict = "✅ **No changes**"
    else:
        verdict = f"✅ **Ready**: {len(review.changed)} stack(s) to deploy"
    lines = [
        f"## Change review: `{review.environment}`",
        "",
        f"Reviewed {review.created_at:%Y-%m-%d %H:%M} UTC. {verdict}.",
        "",
        "| Stack | Change set | Plan |",
        "|---|---|---|",
    ]
    for stack in review.stacks:
        lines.append(
            f"| `{stack.name}` | `{stack.change_set_name or '-'}` | {_cell(headline(stack))} |"
        )
    for deletion in review.deletions:
        lines.append(f"| `{deletion.external_name}` | - | **delete** ({deletion.reason}) |")
    lines.append("")
    if blocked or approved:
        lines += ["### Needs approval", ""]
        lines += [f"- [ ] {f.stack}: {f.message} (`{f.approve_with}`)" for f in blocked]
        lines += [f"- [x] {f.stack}: {f.message} (approved: `{f.approve_with}`)" for f in approved]
        lines.append("")
    if later:
        lines += ["### Gated once reviewable (stack pending)", ""]
        lines += [f"- {f.stack}: {f.message} (`{f.approve_with}`)" for f in later]
        lines.append("")
    for stack in review.stacks:
        if stack.resources or stack.iam or stack.notes or stack.parameter_changes:
            lines += _stack_section(stack)
    if drift is not None:
        lines += _drift_section(drift)
    lines += [
        "Replacement: CloudFormation's verdict from the change set, and the offline prediction "
        "(registry schemas' create-only properties plus documented replacement properties); "
        "the worse of the two counts.",
        "",
    ]
    return "\n".join(lines)
