"""Keep native moto resources that moto cannot update in place.

When an UpdateStack modifies a resource whose moto model has no
``update_from_cloudformation_json`` (moto 5.2.5: AWS::DynamoDB::Table,
AWS::KMS::Key, AWS::Logs::LogGroup, AWS::Lambda::Permission), moto's
``parse_and_update_resource`` returns None and the stack stores None for it.
The resource then drops out of Ref/GetAtt, DescribeStacks fails with HTTP 500
("Fn::GetAtt references undefined resource") while an output points at it, and
deleting the stack leaks it. Keeping the existing object instead means the new
property values are not applied, but the stack stays usable (logged as a warning).
"""

from __future__ import annotations

import logging
from typing import Any

from moto.cloudformation import parsing

log = logging.getLogger(__name__)

_original_parse_and_update = parsing.parse_and_update_resource


def _parse_and_update_resource(
    logical_id: str,
    resource_json: dict[str, Any],
    resources_map: parsing.ResourceMap,
    account_id: str,
    region_name: str,
) -> Any:
    resource_class = parsing.resource_class_from_type(resource_json["Type"])
    updatable = resource_class is None or not hasattr(
        resource_class.update_from_cloudformation_json, "__isabstractmethod__"
    )
    if updatable:
        return _original_parse_and_update(
            logical_id, resource_json, resources_map, account_id, region_name
        )
    log.warning(
        "moto cannot update %s %s in place; keeping it with its old properties",
        resource_json["Type"],
        logical_id,
    )
    return resources_map[logical_id]  # still the object created before


def install() -> None:
    # ResourceMap.update looks the function up in the module at call time.
    parsing.parse_and_update_resource = _parse_and_update_resource
