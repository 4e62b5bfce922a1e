"""A fix to moto's native AWS::DynamoDB::Table model: its CloudFormation create ignores
``TimeToLiveSpecification``, so a launched table reported TTL ``DISABLED`` and nothing could
show that pending requests expire. It is applied here, as ``UpdateTimeToLive`` would.
(moto never deletes expired items, as DynamoDB does lazily; readers filter on ``ttl`` anyway.)
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

_original_create = Table.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _create_table(
    cls: type[Table],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Table:
    table: Table = _original_create(
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    ttl = (cloudformation_json.get("Properties") or {}).get("TimeToLiveSpecification")
    if ttl:
        dynamodb_backends[account_id][region_name].update_time_to_live(
            table.name, {"Enabled": ttl["Enabled"], "AttributeName": ttl["AttributeName"]}
        )
    return table


Table.create_from_cloudformation_json = classmethod(_create_table)  # type: ignore[assignment,method-assign]
