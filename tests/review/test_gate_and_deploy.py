"""The gate's findings and approvals, the review record, and deploy's refusals and waiting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from review import gate
from review.deploy import deploy, wait_for_stack
from review.iam_diff import RoleDiff
from review.merge import ResourceVerdict
from review.record import recorded_stacks, to_record, write
from review.stack_review import CHANGES, PENDING, Review, StackDeletion, StackReview

WHEN = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def review_with(*stacks, deletions=()):
    return Review("prod", WHEN, list(stacks), list(deletions))


def tables(state=CHANGES):
    stack = StackReview("prod/tables", "http-tunnel-prod-tables", 1, ["prod/keys"], state=state)
    stack.resources = [
        ResourceVerdict(
            "ConnectionsTable",
            "AWS::DynamoDB::Table",
            "Modify",
            predicted="False",
            cloudformation="Conditional",
        )
    ]
    stack.change_set_name = "review-0123456789ab"
    stack.change_set_id = "arn:aws:cloudformation:us-east-1:1:changeSet/review-0123456789ab/x"
    stack.template_sha256 = "t" * 64
    stack.parameters_sha256 = "p" * 64
    stack.inputs_sha256 = "i" * 64
    stack.upstream_outputs = {"prod/keys": {"DataKeyArn": "arn:aws:kms:us-east-1:1:key/k"}}
    return stack


def test_a_conditional_replacement_of_a_stateful_resource_blocks():
    findings = gate.evaluate(review_with(tables()), gate.Approvals())
    assert [(f.kind, f.message) for f in findings] == [
        ("replacement", "AWS::DynamoDB::Table ConnectionsTable would be possibly replaced")
    ]
    assert gate.exit_code(review_with(tables()), findings) == gate.BLOCKED


def test_a_stack_deletion_blocks_until_approved_by_its_name():
    deletion = StackDeletion("http-tunnel-prod-old", "no file in config/prod/ launches it")
    review = review_with(deletions=[deletion])
    findings = gate.evaluate(review, gate.Approvals())
    assert [(f.kind, f.approve_with) for f in findings] == [
        ("deletion", "--allow-delete http-tunnel-prod-old")
    ]
    assert gate.exit_code(review, findings) == gate.BLOCKED
    approved = gate.evaluate(review, gate.Approvals(delete=frozenset({"http-tunnel-prod-old"})))
    assert gate.exit_code(review, approved) == gate.OK
    assert not review.no_changes


def test_findings_of_pending_stacks_are_shown_but_do_not_block():
    functions = StackReview("prod/functions", "http-tunnel-prod-functions", 2, state=PENDING)
    functions.iam = {"ForwardingRole": RoleDiff(added=(("dynamodb:Scan", "*"),))}
    review = review_with(functions)
    findings = gate.evaluate(review, gate.Approvals())
    assert [(f.kind, f.pending) for f in findings] == [("broadening", True)]
    assert gate.blocking(findings) == []
    assert gate.exit_code(review, findings) == gate.OK


def test_unused_approvals_are_reported():
    review = review_with(tables())
    approvals = gate.Approvals(replace=frozenset({"ConnectionTable", "tables/ConnectionsTable"}))
    assert gate.unused_approvals(review, approvals) == [
        "--allow-replace ConnectionTable matched nothing"
    ]


def test_the_record_keeps_what_deploy_needs(tmp_path):
    review = review_with(tables())
    approvals = gate.Approvals(replace=frozenset({"ConnectionsTable"}))
    record = to_record(review, gate.evaluate(review, approvals), approvals)
    assert record["passed"] is True
    assert record["approvals"]["replace"] == ["ConnectionsTable"]
    (stack,) = recorded_stacks(json.loads(write(record, tmp_path / "prod.json").read_text()))
    assert stack.change_set_id.endswith("review-0123456789ab/x")
    assert (stack.template_sha256, stack.parameters_sha256) == ("t" * 64, "p" * 64)
    assert stack.upstream_outputs == {"prod/keys": {"DataKeyArn": "arn:aws:kms:us-east-1:1:key/k"}}
    resource = record["stacks"][0]["resources"][0]
    assert resource["replacement"] == "Conditional"
    assert resource["disagreement"].startswith("Replacement: CloudFormation says Conditional")


def refused(tmp_path, record, environment="prod", max_age=timedelta(hours=24), now=WHEN):
    path = write(record, tmp_path / "prod.json")
    lines = []
    code = deploy(tmp_path, environment, path, max_age=max_age, log=lines.append, now=now)
    return code, "\n".join(lines)


def passed_record():
    review = review_with(tables())
    approvals = gate.Approvals(replace=frozenset({"ConnectionsTable"}))
    return to_record(review, gate.evaluate(review, approvals), approvals)


def test_deploy_refuses_an_old_review(tmp_path):
    code, output = refused(tmp_path, passed_record(), now=WHEN + timedelta(hours=25))
    assert code == gate.REFUSED
    assert "the review is 25.0 h old (at most 24.0 h allowed): review again" in output


def test_deploy_refuses_a_review_that_did_not_pass(tmp_path):
    review = review_with(tables())
    record = to_record(review, gate.evaluate(review, gate.Approvals()), gate.Approvals())
    code, output = refused(tmp_path, record)
    assert code == gate.REFUSED
    assert "did not pass its gate" in output
    assert "--allow-replace ConnectionsTable" in output


def test_deploy_refuses_another_environment_and_a_missing_review(tmp_path):
    code, output = refused(tmp_path, passed_record(), environment="staging")
    assert (code, output) == (
        gate.REFUSED,
        "deploy refused: the review is of 'prod', not 'staging'",
    )
    lines = []
    missing = deploy(
        tmp_path, "prod", tmp_path / "none.json", max_age=timedelta(hours=1), log=lines.append
    )
    assert missing == gate.REFUSED
    assert "none.json not found: run the review first" in lines[0]


def test_waiting_for_an_execution_does_not_trust_the_previous_status():
    answers = {
        "describe_change_set": [
            {"ExecutionStatus": "EXECUTE_IN_PROGRESS"},
            {"ExecutionStatus": "EXECUTE_FAILED"},
        ],
        "describe_stacks": [
            {"Stacks": [{"StackStatus": "UPDATE_ROLLBACK_IN_PROGRESS"}]},
            {"Stacks": [{"StackStatus": "UPDATE_ROLLBACK_COMPLETE"}]},
        ],
        "describe_stack_events": [
            {
                "StackEvents": [
                    {
                        "LogicalResourceId": "ConnectionsTable",
                        "ResourceStatus": "UPDATE_FAILED",
                        "ResourceStatusReason": "Cannot update GSI and KeySchema at once",
                    },
                    {"LogicalResourceId": "Topic", "ResourceStatus": "UPDATE_COMPLETE"},
                ]
            }
        ],
    }
    sleeps = []

    def call(command, kwargs):
        return answers[command].pop(0)

    status, reasons = wait_for_stack(
        call, "http-tunnel-prod-tables", 5, sleep=sleeps.append, change_set_id="arn:cs"
    )
    assert status == "UPDATE_ROLLBACK_COMPLETE"
    assert reasons == ["ConnectionsTable: Cannot update GSI and KeySchema at once"]
    assert sleeps == [5, 5]
