"""``build/review/<env>.json``: the review for machines, and what ``deploy`` executes.

It records, per stack, the change-set name and id and the hashes of the template, the parameters
and everything sent (so deploy can prove nothing changed since), the upstream outputs the
parameters were rendered from, every resource verdict and the IAM diff; and, for the environment,
the findings, the approvals given and whether the gate passed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from review.gate import Approvals, Finding, blocking
from review.stack_review import Review

FORMAT = 1


def to_record(review: Review, findings: list[Finding], approvals: Approvals) -> dict[str, Any]:
    stacks = []
    for stack in review.stacks:
        entry = asdict(stack)
        entry["resources"] = [
            {
                **asdict(resource),
                "replacement": resource.replacement,
                "stateful": resource.stateful,
                "disagreement": resource.disagreement,
            }
            for resource in stack.resources
        ]
        entry["iam"] = {
            role: {
                "added": [list(pair) for pair in diff.added],
                "removed": [list(pair) for pair in diff.removed],
                "broadening": diff.broadening,
            }
            for role, diff in stack.iam.items()
        }
        entry["parameter_changes"] = {
            name: {"deployed": before, "rendered": after}
            for name, (before, after) in stack.parameter_changes.items()
        }
        stacks.append(entry)
    return {
        "format": FORMAT,
        "environment": review.environment,
        "created_at": review.created_at.isoformat(),
        "passed": not review.errors and not blocking(findings),
        "no_changes": review.no_changes,
        "approvals": {
            "replace": sorted(approvals.replace),
            "broadening": approvals.broadening,
            "delete": sorted(approvals.delete),
        },
        "findings": [asdict(finding) for finding in findings],
        "stacks": stacks,
        "deletions": [
            {**asdict(deletion), "approved": deletion.external_name in approvals.delete}
            for deletion in review.deletions
        ],
    }


def write(record: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


class RecordError(Exception):
    """The review file is missing or unreadable."""


def read(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise RecordError(f"{path} not found: run the review first") from None
    except (OSError, ValueError) as error:
        raise RecordError(f"{path} is not a review record: {error}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise RecordError(f"{path} is not a review record of format {FORMAT}")
    return record


@dataclass(frozen=True)
class RecordedStack:
    """What deploy needs of one reviewed stack."""

    name: str
    external_name: str
    layer: int
    state: str
    change_set_name: str
    change_set_id: str
    template_sha256: str
    parameters_sha256: str
    inputs_sha256: str
    upstream_outputs: dict[str, dict[str, str]]


def recorded_stacks(record: dict[str, Any]) -> list[RecordedStack]:
    fields = RecordedStack.__dataclass_fields__
    return [
        RecordedStack(**{name: stack[name] for name in fields})
        for stack in sorted(record["stacks"], key=lambda s: (s["layer"], s["name"]))
    ]


def created_at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["created_at"])
