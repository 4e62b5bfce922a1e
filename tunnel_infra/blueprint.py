"""Blueprint: one template of one environment, and the conventions every stack shares.

A template entry file in ``templates/`` makes one Blueprint per call and declares its resources on
it. The Blueprint owns the mechanics: names (``http-tunnel-<thing>-<env>``), tags, parameters,
outputs and stable rendering.
"""

from __future__ import annotations

from typing import Any, TypeVar

from troposphere import AWSObject, Output, Parameter, Ref, Tags, Template
from tunnel_shared.names import PROJECT, resource_name

from tunnel_infra import cfn_yaml
from tunnel_infra.settings import Settings, parse_settings

MANAGED_BY = "sceptre"
ACCOUNT_SCOPE = "account"

Resource = TypeVar("Resource", bound=AWSObject)


class Blueprint:
    """A template under construction for one environment."""

    def __init__(self, settings: Settings | None, description: str, scope: str = "") -> None:
        self._settings = settings
        self._scope = settings.environment if settings else scope
        self.template = Template(Description=f"{PROJECT} {self._scope}: {description}")

    @classmethod
    def from_user_data(cls, sceptre_user_data: Any, description: str) -> Blueprint:
        return cls(parse_settings(sceptre_user_data), description)

    @classmethod
    def for_account(cls, description: str) -> Blueprint:
        """A stack of the account and region, shared by every environment in it."""
        return cls(None, description, scope=ACCOUNT_SCOPE)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise TypeError(f"the {self._scope} stack has no environment settings")
        return self._settings

    @property
    def environment(self) -> str:
        """The environment (``dev``), or ``account`` for an account stack."""
        return self._scope

    def name(self, thing: str) -> str:
        """The physical name of a thing: ``http-tunnel-<thing>-<env>``."""
        return resource_name(thing, self.environment)

    def tags(self, **extra: str) -> dict[str, str]:
        return {
            "Environment": self.environment,
            "ManagedBy": MANAGED_BY,
            "Project": PROJECT,
            **extra,
        }

    def add(self, resource: Resource, extra_tags: dict[str, str] | None = None) -> Resource:
        """Add a resource, tagging it if its type is taggable (with ``extra_tags`` too)."""
        tag_type = resource.props.get("Tags", (None,))[0]
        tags = {**self.tags(), **(extra_tags or {})}
        if tag_type is dict:
            resource.Tags = tags
        elif tag_type is not None:
            resource.Tags = Tags(tags)
        return self.template.add_resource(resource)

    def parameter(self, logical_id: str, description: str, **properties: Any) -> Parameter:
        """A value from another stack, filled by ``!stack_output`` in the stack's config."""
        properties.setdefault("Type", "String")
        return self.template.add_parameter(
            Parameter(logical_id, Description=description, **properties)
        )

    def data_key_parameter(self) -> Ref | None:
        """The environment's KMS key, where customer-managed keys are enabled."""
        if self._settings is None or not self.settings.customer_managed_key:
            return None
        return Ref(self.parameter("DataKeyArn", "ARN of the environment's KMS key"))

    def output(self, logical_id: str, value: Any, description: str) -> Output:
        return self.template.add_output(Output(logical_id, Value=value, Description=description))

    def output_ref(self, logical_id: str, resource: AWSObject, description: str) -> Output:
        return self.output(logical_id, Ref(resource), description)

    def render(self) -> str:
        """Sorted, stable YAML: the same inputs always give the same bytes."""
        return cfn_yaml.dumps(self.template.to_dict())
