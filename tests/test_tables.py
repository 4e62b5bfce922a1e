"""What the tables keep: claims, connections and tokens only (answers cross the answers API,
never a table: no request's body or cookies are written to DynamoDB); the connections table
keeps point-in-time recovery where the environment protects its data."""

from __future__ import annotations

import pytest

from tunnel_infra.render import ENVIRONMENTS


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_table_holds_requests_in_flight(templates, environment):
    tables = {
        logical_id
        for logical_id, resource in templates[f"{environment}/tables"]["Resources"].items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }
    assert tables == {"ConnectionsTable", "TokensTable"}


def test_connections_keep_point_in_time_recovery_in_prod(templates):
    table = templates["prod/tables"]["Resources"]["ConnectionsTable"]
    recovery = table["Properties"]["PointInTimeRecoverySpecification"]
    assert recovery == {"PointInTimeRecoveryEnabled": True}
