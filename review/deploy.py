"""``review deploy``: execute exactly the change sets the review recorded, in dependency order.

Refuses, before touching anything, when:
- the review is missing, for another environment, older than ``max_age``, or did not pass its
  gate (errors, or blocking findings without approval);
- anything rendered now differs from what was reviewed: a template, a parameter value, the tags,
  a stack added to or removed from the config.
Then, layer by layer, it refuses a stack whose upstream outputs changed since the review (its
change set was computed from the old values) or whose change set can no longer be executed
(CloudFormation marks it OBSOLETE when the stack changed meanwhile), executes the rest of the
layer and waits for each stack. Approved stack deletions come last.

Executing change sets runs no Sceptre hook, so what an ``after_create``/``after_update`` hook
would print after a launch is printed here: the DNS record a custom domain needs
(``hooks.dns_record.instruction``, from the executed stack's outputs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hooks.dns_record import instruction as dns_instruction
from review.change_sets import Call
from review.environment import Environment
from review.gate import ERROR, OK, REFUSED
from review.record import RecordedStack, RecordError, created_at, read, recorded_stacks
from review.stack_review import CHANGES, NO_CHANGES, PENDING
from tunnel_infra import local_stack

Log = Callable[[str], None]
_SUCCESS = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")


class Refused(Exception):
    """Deploying would not execute what was reviewed."""


def _check_record(
    record: dict[str, Any], environment: str, max_age: timedelta, now: datetime
) -> None:
    if record.get("environment") != environment:
        raise Refused(f"the review is of {record.get('environment')!r}, not {environment!r}")
    age = now - created_at(record)
    if age > max_age:
        raise Refused(
            f"the review is {_duration(age)} old (at most {_duration(max_age)} allowed): "
            "review again"
        )
    if not record.get("passed"):
        blocked = [
            f for f in record.get("findings", []) if not f.get("approved") and not f.get("pending")
        ]
        why = "; ".join(f"{f['message']} ({f['approve_with']})" for f in blocked)
        errors = [s["name"] for s in record.get("stacks", []) if s.get("state") == "error"]
        if errors:
            why = "; ".join(filter(None, [why, "errors in " + ", ".join(errors)]))
        raise Refused(f"the review did not pass its gate: {why}")


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _compare_rendering(env: Environment, stacks: list[RecordedStack]) -> list[str]:
    """Every difference between what is rendered now and what was reviewed."""
    differences = []
    recorded = {stack.name for stack in stacks}
    for entry in env:
        if entry.name not in recorded:
            differences.append(f"{entry.name}: not in the review (a new stack)")
    for stack in stacks:
        entry = env.get(stack.name)
        if entry is None:
            differences.append(f"{stack.name}: no longer in the config")
            continue
        if stack.state not in (CHANGES, NO_CHANGES):
            continue  # pending stacks had nothing rendered to compare; they are not executed
        try:
            rendered = env.render(entry.stack)
        except Exception as error:  # noqa: BLE001 - shown as one line
            differences.append(f"{stack.name}: cannot be rendered now: {error}")
            continue
        changed = [
            what
            for what, now, then in (
                ("template", rendered.template_sha256, stack.template_sha256),
                ("parameters", rendered.parameters_sha256, stack.parameters_sha256),
            )
            if now != then
        ]
        if not changed and rendered.inputs_sha256(stack.external_name) != stack.inputs_sha256:
            changed.append("tags")
        if changed:
            differences.append(f"{stack.name}: {' and '.join(changed)} changed since the review")
    return differences


def _check_upstream(env: Environment, stack: RecordedStack) -> None:
    for upstream, outputs in stack.upstream_outputs.items():
        entry = env.get(upstream)
        current = env.outputs(entry.stack, refresh=True) if entry else {}
        changed = sorted(key for key, value in outputs.items() if current.get(key) != value)
        if changed:
            raise Refused(
                f"{stack.name}: outputs of {upstream} changed since the review "
                f"({', '.join(changed)}); its change set used the old values: review again"
            )


def _execute(call: Call, stack: RecordedStack) -> None:
    description = call("describe_change_set", {"ChangeSetName": stack.change_set_id})
    execution = description.get("ExecutionStatus")
    if execution != "AVAILABLE":
        raise Refused(
            f"{stack.name}: change set {stack.change_set_name} is {execution} "
            "(the stack changed since the review?): review again"
        )
    call("execute_change_set", {"ChangeSetName": stack.change_set_id})


def _wait_for_execution(
    call: Call, change_set_id: str, poll_seconds: float, sleep: Callable[[float], None]
) -> None:
    """Until CloudFormation has finished with the change set.

    Right after ExecuteChangeSet the stack may still show its previous ``*_COMPLETE`` status;
    the change set's ExecutionStatus is what says the execution is over.
    """
    while True:
        try:
            described = call("describe_change_set", {"ChangeSetName": change_set_id})
        except ClientError:
            return  # gone: the stack status tells the rest
        if described.get("ExecutionStatus") not in ("AVAILABLE", "EXECUTE_IN_PROGRESS"):
            return
        sleep(poll_seconds)


def wait_for_stack(
    call: Call,
    external_name: str,
    poll_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    change_set_id: str = "",
) -> tuple[str, list[str]]:
    """Final status (DELETE_COMPLETE once gone) and, on failure, the failed events' reasons."""
    if change_set_id:
        _wait_for_execution(call, change_set_id, poll_seconds, sleep)
    while True:
        try:
            described = call("describe_stacks", {"StackName": external_name})["Stacks"][0]
        except ClientError as error:
            if "does not exist" in str(error.response.get("Error", {}).get("Message", "")):
                return "DELETE_COMPLETE", []
            raise
        status = str(described["StackStatus"])
        if not status.endswith("_IN_PROGRESS"):
            break
        sleep(poll_seconds)
    if status in _SUCCESS or status == "DELETE_COMPLETE":
        return status, []
    events = call("describe_stack_events", {"StackName": external_name}).get("StackEvents", [])
    reasons = [
        f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("FAILED") and e.get("ResourceStatusReason")
    ]
    return status, reasons[:5]


def deploy(
    project: Path,
    environment: str,
    record_path: Path,
    *,
    max_age: timedelta,
    log: Log = print,
    now: datetime | None = None,
    poll_seconds: float = 4.0,
) -> int:
    try:
        record = read(record_path)
        _check_record(record, environment, max_age, now or datetime.now(UTC))
    except (RecordError, Refused) as error:
        log(f"deploy refused: {error}")
        return REFUSED
    stacks = recorded_stacks(record)
    env = Environment(project, environment)
    differences = _compare_rendering(env, stacks)
    if differences:
        log("deploy refused: what would be deployed now differs from the review:")
        for difference in differences:
            log(f"  {difference}")
        log(f"Review again: {review_command(environment)}")
        return REFUSED
    to_execute = [stack for stack in stacks if stack.state == CHANGES]
    for layer in sorted({stack.layer for stack in to_execute}):
        batch = [stack for stack in to_execute if stack.layer == layer]
        started: list[RecordedStack] = []
        refused: Refused | None = None
        for stack in batch:
            entry = env.get(stack.name)
            assert entry is not None  # _compare_rendering checked it
            try:
                _check_upstream(env, stack)
                _execute(Environment.call(entry.stack), stack)
            except Refused as error:
                refused = error
                break
            except (ClientError, BotoCoreError) as error:
                log(f"{stack.name}: executing {stack.change_set_name} failed: {error}")
                return ERROR
            log(f"{stack.name}: executing change set {stack.change_set_name}")
            started.append(stack)
        failed = False
        for stack in started:
            entry = env.get(stack.name)
            assert entry is not None
            status, reasons = wait_for_stack(
                Environment.call(entry.stack),
                stack.external_name,
                poll_seconds,
                change_set_id=stack.change_set_id,
            )
            log(f"{stack.name}: {status}")
            for reason in reasons:
                log(f"    {reason}")
            failed = failed or status not in _SUCCESS
            if status in _SUCCESS:
                _log_dns_instruction(env, entry.stack, log)
        if refused is not None:
            log(f"deploy refused: {refused}")
            return REFUSED
        if failed:
            return ERROR
    result = _delete_approved(env, record, poll_seconds, log)
    pending = [stack.name for stack in stacks if stack.state == PENDING]
    if pending:
        log(
            f"pending (their upstream stacks were not deployed at review time): "
            f"{', '.join(pending)}; review again to deploy them"
        )
    if not to_execute and not record.get("deletions"):
        log("nothing to deploy: the review found no changes")
    return result


def _log_dns_instruction(env: Environment, stack: Any, log: Log) -> None:
    """The line the domain stack's ``!dns_record`` hook prints after a launch, with the values
    the execution produced (nothing for a stack without a custom domain's outputs)."""
    try:
        outputs = env.outputs(stack, refresh=True)
    except (ClientError, BotoCoreError) as error:
        log(f"{stack.name}: cannot read its outputs for the DNS instruction: {error}")
        return
    line = dns_instruction(outputs)
    if line:
        log(line)


def _delete_approved(env: Environment, record: dict[str, Any], poll: float, log: Log) -> int:
    approved = [d["external_name"] for d in record.get("deletions", []) if d.get("approved")]
    if not approved or not env.stacks:
        return OK
    call = Environment.call(env.stacks[0].stack)
    for name in approved:
        log(f"{name}: deleting (approved in the review)")
        call("delete_stack", {"StackName": name})
        status, reasons = wait_for_stack(call, name, poll)
        log(f"{name}: {status}")
        for reason in reasons:
            log(f"    {reason}")
        if status != "DELETE_COMPLETE":
            return ERROR
    return OK


def review_command(environment: str) -> str:
    """The command that reviews again, as it works in a fresh shell."""
    if local_stack.is_local():
        return local_stack.make_command("review-local")
    return f"make review ENV={environment}"
