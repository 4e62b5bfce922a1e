"""``python -m review plan|deploy dev`` end to end on the emulator, in a project copy.

The steps share one environment and run in order: review and deploy dev from nothing (three
rounds: each deploy can only create the stacks whose upstream outputs existed at review time),
a review with no change, a table key change that must be blocked, and a deploy that must refuse
because the template changed after the review.
"""

from __future__ import annotations

import re

import pytest

from tests.review.conftest import ReviewProject
from tests.sceptre_config import stack_names

STACKS = stack_names("dev")
ANCHOR = "    tokens_table = dynamodb.table(stack, TOKENS, key_arn=key_arn)\n"
KEY_CHANGE = """    from troposphere.dynamodb import AttributeDefinition, KeySchema

    tokens_table.KeySchema = [KeySchema(AttributeName="requestKey", KeyType="HASH")]
    tokens_table.AttributeDefinitions = [
        AttributeDefinition(AttributeName="requestKey", AttributeType="S")
    ]
"""


@pytest.fixture(scope="module")
def deployed(review_project: ReviewProject) -> ReviewProject:
    """dev reviewed and deployed round by round until a review finds nothing to do."""
    rounds = []
    for _ in range(5):
        plan = review_project.review("plan", "dev", "--approve-broadening")
        assert plan.returncode == 0, plan.output
        assert "Traceback" not in plan.output
        states = {s["name"]: s["state"] for s in review_project.record()["stacks"]}
        rounds.append((states, plan.output))
        if set(states.values()) == {"no_changes"}:
            break
        run = review_project.review("deploy", "dev")
        assert run.returncode == 0, run.output
    review_project.rounds = rounds  # type: ignore[attr-defined]
    return review_project


def test_review_then_deploy_creates_dev_layer_by_layer(deployed):
    assert len(deployed.rounds) == 4  # three rounds to deploy, a fourth finds nothing to do
    first, second, third = (states for states, _ in deployed.rounds[:3])
    assert {name for name, state in first.items() if state == "changes"} == {
        # The account's API Gateway CloudWatch role: a dependency of routes, reviewed first.
        "account/api-gateway-logging",
        "dev/apis",
        "dev/artifacts",
        "dev/bodies",
        "dev/keys",
        "dev/tables",
    }
    assert {name for name, state in first.items() if state == "pending"} == {
        "dev/functions",
        "dev/monitoring",
        "dev/routes",
    }
    assert second["dev/functions"] == "changes"
    assert second["dev/routes"] == second["dev/monitoring"] == "pending"
    assert third["dev/routes"] == third["dev/monitoring"] == "changes"
    assert third["dev/tables"] == "no_changes"
    states = deployed.stacks()
    assert sorted(states) == STACKS
    assert {status for status, _ in states.values()} == {"CREATE_COMPLETE"}


def test_pending_stacks_say_what_they_wait_for_and_are_gated_later(deployed):
    _, output = deployed.rounds[0]
    waits = "dev/apis, dev/artifacts, dev/bodies, dev/keys, dev/tables"
    assert re.search(rf"dev/functions +pending: waits for {waits}", output), output
    # Their roles are new (broadening), but deploy will not touch them yet: not blocking now.
    assert "Gated once their stacks can be reviewed (pending):" in output
    assert "dev/functions: IAM policy of ForwardingRole gains" in output
    _, output = deployed.rounds[1]
    assert "ok dev/functions: IAM policy of ForwardingRole gains" in output  # approved by the flag


def test_a_second_review_without_changes_reports_no_changes_and_passes(deployed):
    before = deployed.stacks()
    again = deployed.review("plan", "dev")
    assert again.returncode == 0, again.output
    assert "Result: no changes" in again.output
    record = deployed.record()
    assert {s["state"] for s in record["stacks"]} == {"no_changes"}
    assert all(s["change_set_status"] == "FAILED" for s in record["stacks"])
    assert (deployed.root / "build/review/dev.md").read_text().count("no changes") >= 7
    assert deployed.stacks() == before


def test_a_table_key_change_is_blocked_and_names_the_table(deployed):
    tables = deployed.root / "templates/tables.py"
    original = tables.read_text()
    assert ANCHOR in original
    tables.write_text(original.replace(ANCHOR, ANCHOR + KEY_CHANGE))
    try:
        blocked = deployed.review("plan", "dev")
        approved = deployed.review("plan", "dev", "--allow-replace", "TokensTable")
    finally:
        tables.write_text(original)
    assert blocked.returncode == 2, blocked.output
    assert "TokensTable would be replaced" in blocked.output
    assert "--allow-replace TokensTable" in blocked.output
    assert "Result: BLOCKED" in blocked.output
    assert approved.returncode == 0, approved.output
    record = deployed.record()
    (table,) = [
        r
        for s in record["stacks"]
        if s["name"] == "dev/tables"
        for r in s["resources"]
        if r["logical_id"] == "TokensTable"
    ]
    assert table["cloudformation"] == "True"  # the emulator's change set says so
    assert table["predicted"] == "True"  # and so does the offline prediction
    assert "Properties.KeySchema[0].AttributeName (template)" in table["paths"]
    assert record["findings"][0]["approved"] is True
    assert "TokensTable" in (deployed.root / "build/review/dev.md").read_text()


def test_deploy_refuses_when_the_template_changed_after_the_review(deployed):
    handler = deployed.root / "functions/response/handler.py"
    handler.write_text(handler.read_text() + "\n# a reviewed change\n")
    reviewed = deployed.review("plan", "dev")
    assert reviewed.returncode == 0, reviewed.output
    assert "~ ResponseFunction" in reviewed.output
    assert "Properties.Code.S3Key (parameter ResponseCodeKey)" in reviewed.output
    before = deployed.stacks()
    tables = deployed.root / "templates/tables.py"
    original = tables.read_text()
    assert '"Issued tokens"' in original
    tables.write_text(original.replace('"Issued tokens"', '"Tokens issued"'))
    try:
        refused = deployed.review("deploy", "dev")
    finally:
        tables.write_text(original)
    assert refused.returncode == 3, refused.output
    assert "dev/tables: template changed since the review" in refused.output
    assert "Traceback" not in refused.output
    assert deployed.stacks() == before  # nothing executed, not even the reviewed functions
    executed = deployed.review("deploy", "dev")
    assert executed.returncode == 0, executed.output
    after = deployed.stacks()
    assert [name for name in STACKS if after[name] != before[name]] == ["functions"]
    assert after["functions"][0] == "UPDATE_COMPLETE"
