"""What the tables keep: pending requests (bodies, cookies) never go into backups; the
connections table keeps point-in-time recovery where the environment protects its data."""

from __future__ import annotations

import pytest

from tunnel_infra.render import ENVIRONMENTS


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_pending_requests_have_no_point_in_time_recovery_and_say_why(templates, environment):
    table = templates[f"{environment}/tables"]["Resources"]["PendingRequestsTable"]
    recovery = table["Properties"]["PointInTimeRecoverySpecification"]
    assert recovery == {"PointInTimeRecoveryEnabled": False}
    (skip,) = [s for s in table["Metadata"]["checkov"]["skip"] if s["id"] == "CKV_AWS_28"]
    assert "35 days" in skip["comment"] and "bodies" in skip["comment"]


def test_connections_keep_point_in_time_recovery_in_prod(templates):
    table = templates["prod/tables"]["Resources"]["ConnectionsTable"]
    recovery = table["Properties"]["PointInTimeRecoverySpecification"]
    assert recovery == {"PointInTimeRecoveryEnabled": True}
