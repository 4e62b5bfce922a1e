"""Lifecycle plumbing shared by the emulator's CloudFormation resource providers.

moto finds CloudFormation models through ``CloudFormationModel.__subclasses__()``,
which lists DIRECT subclasses only. So this is a mixin, not a base class: each
provider is declared as ``class X(ProviderResource, CloudFormationModel)`` and the
mixin supplies moto's create/update/delete/GetAtt hooks on top of three small
methods the provider writes: ``create``, ``apply_update`` and ``destroy``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

Properties = dict[str, Any]


class ProviderResource:
    """One CloudFormation resource whose real object lives in a moto backend."""

    CFN_TYPE: ClassVar[str] = ""
    # Property moto's parser reads the physical name from ("" = none).
    NAME_PROPERTY: ClassVar[str] = ""
    # Fn::GetAtt attribute -> instance attribute holding its value.
    ATTRIBUTES: ClassVar[dict[str, str]] = {}
    # Properties whose change makes CloudFormation replace the resource.
    REPLACE_ON: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, name: str, properties: Properties, account_id: str, region_name: str
    ) -> None:
        self.name = name
        self.properties = properties
        self.account_id = account_id
        self.region_name = region_name

    # --- what each provider implements -------------------------------------

    @property
    def physical_resource_id(self) -> str:
        """What ``Ref`` returns."""
        raise NotImplementedError

    def create(self) -> None:
        raise NotImplementedError

    def apply_update(self, old: Properties) -> None:
        """Bring the backend object in line with ``self.properties`` (in place)."""
        raise NotImplementedError

    def destroy(self) -> None:
        """Delete the backend object; must tolerate it (or its parent) being gone,
        because moto deletes a stack's resources in arbitrary order."""
        raise NotImplementedError

    # --- moto's CloudFormationModel interface -------------------------------

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.ATTRIBUTES:
            # moto turns this into the real "does not support attribute type" error.
            raise UnformattedGetAttTemplateException()
        return getattr(self, self.ATTRIBUTES[attribute_name])

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ProviderResource:
        # Properties arrive with Ref/GetAtt/Sub already resolved by moto's parser.
        properties = dict(cloudformation_json.get("Properties") or {})
        resource = cls(resource_name, properties, account_id, region_name)
        resource.create()
        return resource

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: ProviderResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> ProviderResource:
        new_properties = dict(cloudformation_json.get("Properties") or {})
        old_properties = original_resource.properties
        if any(new_properties.get(k) != old_properties.get(k) for k in cls.REPLACE_ON):
            # Replacement, as CloudFormation does: create the new one, then delete the old.
            replacement = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.destroy()
            return replacement
        # moto hands us a freshly generated name when there is no name property;
        # the physical resource keeps its original one.
        original_resource.properties = new_properties
        original_resource.apply_update(old_properties)
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        # moto's ResourceMap calls this (instance-level) on stack delete and on
        # "Remove" during updates; its class-level fallback only gets raw JSON.
        self.destroy()


def tags_as_dict(tags: Any) -> dict[str, str]:
    """CloudFormation spells tags either as a map or as [{Key, Value}]."""
    if not tags:
        return {}
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags}


def tags_as_list(tags: Any) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags_as_dict(tags).items()]
