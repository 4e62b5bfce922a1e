"""``review plan``: for every stack of an environment, in dependency order, the offline plan and
a CloudFormation change set, merged into one ``Review``.

Per stack:
1. A stack whose upstream stacks are not deployed cannot have its ``!stack_output`` parameters
   rendered, so it gets no change set: it is reviewed offline from its template alone and marked
   pending ("review again once <upstream> is deployed"); so is a stack that reads an output its
   deployed upstream does not have yet (the upstream's reviewed change adds it).
2. Otherwise its ``before_create_change_set`` hooks run (packaging: every function is zipped and
   the functions stack uploads missing zips, so artifact keys are real), then template,
   parameters and tags are rendered as ``sceptre launch`` would send them.
3. Offline plan against the deployed template: resources, property paths, predicted replacement,
   IAM diff.
4. A change set named after the hash of what is sent (CREATE for a stack that does not exist),
   created for all stacks first and then waited for together, described in full, classified and
   merged with the offline plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from review import change_sets, external_functions
from review.environment import Environment, EnvironmentStack, Rendered
from review.iam_diff import diff_roles, role_permissions
from review.merge import merge
from review.replacement import predict_resource
from review.stack_review import (
    CHANGES,
    ERROR,
    NO_CHANGES,
    PENDING,
    Review,
    StackDeletion,
    StackReview,
)
from review.template_diff import TemplateDiff, diff_templates
from review.template_text import parse_template

Log = Callable[[str], None]


@dataclass
class _Prepared:
    entry: EnvironmentStack
    review: StackReview
    rendered: Rendered
    diff: TemplateDiff
    change_set_id: str = ""


def _message(error: BaseException) -> str:
    """One line for the user, never a traceback."""
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def offline_plan(
    review: StackReview,
    old: dict[str, Any] | None,
    old_parameters: dict[str, str],
    new: dict[str, Any],
    new_parameters: dict[str, str] | None,
    region: str = "us-east-1",
) -> TemplateDiff:
    """Fill ``review`` from the templates alone (``new_parameters`` None: not known yet)."""
    diff = diff_templates(old, new, old_parameters, new_parameters)
    review.resources = merge(
        ((resource, predict_resource(resource, region)) for resource in diff.resources), None
    )
    review.iam = diff_roles(
        role_permissions(old, old_parameters), role_permissions(new, new_parameters)
    )
    review.parameter_changes = diff.parameters if new_parameters is not None else {}
    review.output_changes = diff.outputs
    review.notes += external_functions.switches(old, new)
    return diff


def _region(entry: EnvironmentStack) -> str:
    return str(entry.stack.region or "us-east-1")


def _change_set_type(status: str | None) -> str:
    if status in (None, "REVIEW_IN_PROGRESS"):
        return "CREATE"
    if status == "ROLLBACK_COMPLETE":
        raise RuntimeError(
            "the stack is ROLLBACK_COMPLETE (its first create failed); delete it, then review"
        )
    if status.endswith("_IN_PROGRESS"):
        raise RuntimeError(f"the stack is busy ({status}); review again when it settles")
    if status.endswith("_FAILED"):
        raise RuntimeError(f"the stack is {status}; repair it before reviewing")
    return "UPDATE"


# Sceptre's !stack_output on a deployed stack that lacks the output (yet).
_MISSING_OUTPUT = re.compile(r"The Stack '([^']+)' does not have an output named '[^']+'")


def _waits_for_output(entry: EnvironmentStack, error: Exception) -> list[str]:
    """The upstream stack whose output this one reads and which does not have it yet: its
    reviewed change adds it (a new output is deployed with its stack), so this stack waits."""
    found = _MISSING_OUTPUT.search(str(error))
    if not found:
        return []
    return [dep.name for dep in entry.dependencies if dep.external_name == found.group(1)]


def _pending(
    review: StackReview,
    pending: list[str],
    stack: Any,
    old: dict[str, Any] | None,
    old_parameters: dict[str, str],
    entry: EnvironmentStack,
) -> StackReview:
    """Reviewed offline only: an upstream stack must deploy first (module docstring)."""
    review.state = PENDING
    review.pending_on = pending
    new = parse_template(stack.template.body)
    offline_plan(review, old, old_parameters, new, None, _region(entry))
    return review


def _prepare(env: Environment, entry: EnvironmentStack) -> _Prepared | StackReview:
    """The offline half of one stack's review; a StackReview alone when there is no change set."""
    stack = entry.stack
    review = StackReview(
        entry.name,
        entry.external_name,
        entry.layer,
        [dependency.name for dependency in entry.dependencies],
    )
    try:
        status = env.status(stack)
        review.exists = status not in (None, "REVIEW_IN_PROGRESS")
        old_body = env.deployed_template(stack)
        old = parse_template(old_body) if old_body else None
        old_parameters = env.deployed_parameters(stack) if old else {}
        pending = env.pending_on(entry)
        if pending:
            return _pending(review, pending, stack, old, old_parameters, entry)
        review.change_set_type = _change_set_type(status)
        env.run_hooks(stack)
        rendered = env.render(stack)
    except Exception as error:  # noqa: BLE001 - any failure is this stack's, shown in one line
        waits = _waits_for_output(entry, error)
        if waits:
            return _pending(review, waits, stack, old, old_parameters, entry)
        review.state = ERROR
        review.error = _message(error)
        return review
    review.template_sha256 = rendered.template_sha256
    review.parameters_sha256 = rendered.parameters_sha256
    review.inputs_sha256 = rendered.inputs_sha256(entry.external_name)
    review.change_set_name = rendered.change_set_name(entry.external_name)
    review.upstream_outputs = {
        dependency.name: env.outputs(dependency) for dependency in entry.dependencies
    }
    new = parse_template(rendered.template)
    diff = offline_plan(review, old, old_parameters, new, rendered.parameters, _region(entry))
    return _Prepared(entry, review, rendered, diff)


def _create(prepared: _Prepared) -> None:
    review = prepared.review
    call = Environment.call(prepared.entry.stack)
    try:
        prepared.change_set_id = change_sets.create(
            call,
            stack_name=review.external_name,
            name=review.change_set_name,
            change_set_type=review.change_set_type,
            request=prepared.rendered.request,
        )
        review.change_set_id = prepared.change_set_id
    except (ClientError, BotoCoreError) as error:
        review.state = ERROR
        review.error = f"change set {review.change_set_name} not created: {_message(error)}"


def _conclude(prepared: _Prepared, description: dict[str, Any]) -> None:
    review = prepared.review
    outcome = change_sets.classify(description)
    review.change_set_status = outcome.status
    review.change_set_reason = outcome.reason
    region = _region(prepared.entry)
    offline = [(r, predict_resource(r, region)) for r in prepared.diff.resources]
    review.resources = merge(offline, outcome)
    if outcome.kind == change_sets.FAILED:
        review.state = ERROR
        review.error = f"change set {review.change_set_name} FAILED: {outcome.reason}"
    elif outcome.kind == change_sets.NO_CHANGES:
        review.state = NO_CHANGES
        if prepared.diff.resources:
            review.notes.append(
                f"CloudFormation reports no changes; the template diff lists "
                f"{len(prepared.diff.resources)} resource(s)"
            )
    else:
        review.state = CHANGES
        if not outcome.changes and not prepared.diff.resources:
            review.notes.append("only stack-level settings change (parameters, outputs or tags)")


def _deletions(env: Environment) -> list[StackDeletion]:
    deletions = [
        StackDeletion(stack.external_name, f"obsolete: true in config/{stack.name}.yaml")
        for stack in env.obsolete
        if env.status(stack) not in (None, "DELETE_COMPLETE")
    ]
    deletions += [
        StackDeletion(name, f"no file in config/{env.name}/ launches it")
        for name in env.unconfigured_stacks()
    ]
    return deletions


def plan(
    project: Path,
    environment: str,
    *,
    log: Log = print,
    poll_seconds: float = 2.0,
    now: datetime | None = None,
) -> Review:
    env = Environment(project, environment)
    reviews: list[StackReview] = []
    prepared: list[_Prepared] = []
    for entry in env:
        result = _prepare(env, entry)
        if isinstance(result, _Prepared):
            prepared.append(result)
            reviews.append(result.review)
        else:
            reviews.append(result)
    for item in prepared:
        _create(item)
    waiting = [
        (Environment.call(item.entry.stack), item.change_set_id)
        for item in prepared
        if item.change_set_id
    ]
    try:
        descriptions = change_sets.wait(waiting, poll_seconds=poll_seconds)
    except (ClientError, BotoCoreError, TimeoutError) as error:
        descriptions = {}
        for item in prepared:
            if item.change_set_id:
                item.review.state = ERROR
                item.review.error = f"waiting for the change set failed: {_message(error)}"
    for item in prepared:
        if item.change_set_id in descriptions:
            _conclude(item, descriptions[item.change_set_id])
    try:
        deletions = _deletions(env)
    except (ClientError, BotoCoreError) as error:
        log(f"{environment}: could not list deployed stacks: {_message(error)}")
        deletions = []
    return Review(environment, now or datetime.now(UTC), reviews, deletions)
