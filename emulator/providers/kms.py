"""Fixes for moto's own AWS::KMS::Key CloudFormation model (a native type).

moto 5.2.5 stores the template's KeyPolicy as the parsed dict, so DescribeKey
and GetKeyPolicy on a stack's key fail with HTTP 500 (``json.loads(dict)``);
it requires KeyPolicy (KeyError -> HTTP 500) although AWS defaults it; and it
hands CloudFormation's [{Key, Value}] tags to a tagger expecting
[{TagKey, TagValue}] (KeyError -> CreateStack fails with HTTP 500).
"""

from __future__ import annotations

import json
from typing import Any

from moto.kms.models import Key

from .base import tags_as_dict

_original_create = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _create_from_cloudformation_json(
    cls: type[Key],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Key:
    properties = dict(cloudformation_json.get("Properties") or {})
    policy = properties.get("KeyPolicy")
    # None makes moto generate the account-root default policy, like AWS.
    properties["KeyPolicy"] = json.dumps(policy) if isinstance(policy, dict) else policy
    properties["Tags"] = [
        {"TagKey": key, "TagValue": value}
        for key, value in tags_as_dict(properties.get("Tags")).items()
    ]
    return _original_create(  # type: ignore[no-any-return]
        cls,
        resource_name,
        {**cloudformation_json, "Properties": properties},
        account_id,
        region_name,
        **kwargs,
    )


Key.create_from_cloudformation_json = classmethod(_create_from_cloudformation_json)  # type: ignore[assignment,method-assign]
