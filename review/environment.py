"""An environment's stacks, in dependency order, read and rendered through Sceptre itself.

The same config reader, graph and launch order as ``sceptre launch`` (``SceptrePlan``), and the
same template, parameters and tags it would send, so what is reviewed is what launch would do.
AWS is reached through each stack's own connection manager (profile, region, role, and
AWS_ENDPOINT_URL for the emulator).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from sceptre.context import SceptreContext
from sceptre.hooks import execute_hooks
from sceptre.plan.plan import SceptrePlan
from sceptre.stack import Stack

from review.change_sets import Call, change_set_name, inputs_digest

# Statuses in which a stack exists with usable outputs (REVIEW_IN_PROGRESS: a CREATE change set
# was made but never executed; ROLLBACK_COMPLETE: the first create failed, nothing is there).
_UNUSABLE = ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE", "DELETE_COMPLETE")


@dataclass(frozen=True)
class Rendered:
    """Exactly what a change set for the stack would be made of."""

    template: str
    parameters: dict[str, str]
    tags: dict[str, str]
    request: dict[str, Any]  # the rest of the CreateChangeSet call: template, tags, roles

    @property
    def template_sha256(self) -> str:
        return hashlib.sha256(self.template.encode()).hexdigest()

    @property
    def parameters_sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.parameters, sort_keys=True).encode()).hexdigest()

    def inputs_sha256(self, external_name: str) -> str:
        return inputs_digest(external_name, self.template, self.parameters, self.tags)

    def change_set_name(self, external_name: str) -> str:
        return change_set_name(external_name, self.template, self.parameters, self.tags)


@dataclass(frozen=True)
class EnvironmentStack:
    stack: Stack
    layer: int

    @property
    def name(self) -> str:
        return str(self.stack.name)

    @property
    def external_name(self) -> str:
        return str(self.stack.external_name)

    @property
    def dependencies(self) -> list[Stack]:
        return sorted(self.stack.dependencies, key=lambda s: s.name)


class Environment:
    """One environment (``config/<env>/``) of a Sceptre project."""

    def __init__(self, project: Path, environment: str) -> None:
        self.project = project
        self.name = environment
        context = SceptreContext(project_path=str(project), command_path=environment)
        self.plan = SceptrePlan(context)
        self.plan.resolve(command="launch")
        self.stacks: list[EnvironmentStack] = []
        self.obsolete: list[Stack] = []
        self.configured: set[str] = set()  # every stack's CloudFormation name, ignored ones too
        for layer, batch in enumerate(self.plan.launch_order or []):
            for stack in sorted(batch, key=lambda s: s.name):
                self.configured.add(stack.external_name)
                if stack.obsolete:
                    self.obsolete.append(stack)
                elif not stack.ignore:
                    self.stacks.append(EnvironmentStack(stack, layer))
        self._described: dict[str, dict[str, Any] | None] = {}
        self._hooks_run: set[str] = set()

    def __iter__(self) -> Iterator[EnvironmentStack]:
        return iter(self.stacks)

    def get(self, name: str) -> EnvironmentStack | None:
        return next((s for s in self.stacks if s.name == name), None)

    @staticmethod
    def call(stack: Stack) -> Call:
        """CloudFormation calls as this stack's connection manager makes them."""

        def call(command: str, kwargs: dict[str, Any]) -> dict[str, Any]:
            return stack.connection_manager.call("cloudformation", command, kwargs)

        return call

    def describe(self, stack: Stack, refresh: bool = False) -> dict[str, Any] | None:
        """The stack's DescribeStacks entry (None if it does not exist), asked once per run."""
        if refresh or stack.external_name not in self._described:
            try:
                response = self.call(stack)("describe_stacks", {"StackName": stack.external_name})
                described = (response.get("Stacks") or [None])[0]
            except ClientError as error:
                if "does not exist" not in str(error.response.get("Error", {}).get("Message", "")):
                    raise
                described = None
            self._described[stack.external_name] = described
        return self._described[stack.external_name]

    def status(self, stack: Stack) -> str | None:
        described = self.describe(stack)
        return str(described["StackStatus"]) if described else None

    def deployed(self, stack: Stack) -> bool:
        """The stack exists with usable outputs."""
        status = self.status(stack)
        return bool(status) and status.endswith("_COMPLETE") and status not in _UNUSABLE

    def outputs(self, stack: Stack, refresh: bool = False) -> dict[str, str]:
        described = self.describe(stack, refresh) or {}
        return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", []) or []}

    def deployed_template(self, stack: Stack) -> str | dict[str, Any] | None:
        """The template CloudFormation holds for the stack (None if it has none yet)."""
        if not self.deployed(stack) and self.status(stack) != "ROLLBACK_COMPLETE":
            return None
        response = self.call(stack)("get_template", {"StackName": stack.external_name})
        return response.get("TemplateBody")

    def deployed_parameters(self, stack: Stack) -> dict[str, str]:
        described = self.describe(stack) or {}
        return {
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", ""))
            for p in described.get("Parameters", []) or []
        }

    def pending_on(self, entry: EnvironmentStack) -> list[str]:
        """Upstream stacks that are not deployed yet (their outputs cannot be read)."""
        return [dep.name for dep in entry.dependencies if not self.deployed(dep)]

    @staticmethod
    def render(stack: Stack) -> Rendered:
        """Template, parameters and tags as ``sceptre launch`` would send them."""
        body = stack.template.body
        parameters = format_parameters(stack.parameters or {})
        tags = {str(k): str(v) for k, v in (stack.tags or {}).items()}
        request: dict[str, Any] = {
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            "NotificationARNs": list(stack.notifications or []),
            **stack.template.get_boto_call_parameter(),
        }
        if stack.cloudformation_service_role:
            request["RoleARN"] = stack.cloudformation_service_role
        return Rendered(body, parameters, tags, request)

    def run_hooks(self, stack: Stack, point: str = "before_create_change_set") -> None:
        """The stack's Sceptre hooks for ``point`` (packaging: zips checked and uploaded).

        Sceptre runs a hook once per stack; a hook of the same kind, argument and user data does
        the same thing for every stack of the environment, so here it runs once per review.
        """
        for hook in stack.hooks.get(point) or []:
            key = repr((type(hook).__name__, hook.argument, stack.sceptre_user_data))
            if key not in self._hooks_run:
                execute_hooks([hook])
                self._hooks_run.add(key)

    def unconfigured_stacks(self) -> list[str]:
        """Deployed stacks named like this environment's that no stack config launches."""
        if not self.stacks:
            return []
        first = self.stacks[0].stack
        prefix = f"{first.project_code}-{self.name.replace('/', '-')}-"
        found = []
        kwargs: dict[str, Any] = {}
        while True:
            response = self.call(first)("describe_stacks", kwargs)
            for described in response.get("Stacks", []):
                name = described["StackName"]
                status = described.get("StackStatus", "")
                tags = {t["Key"]: t["Value"] for t in described.get("Tags", []) or []}
                if (
                    name.startswith(prefix)
                    and name not in self.configured
                    and status != "DELETE_COMPLETE"
                    and tags.get("Environment", self.name) == self.name
                ):
                    found.append(name)
            if not response.get("NextToken"):
                return sorted(found)
            kwargs = {"NextToken": response["NextToken"]}


def format_parameters(parameters: Mapping[str, Any]) -> dict[str, str]:
    """As Sceptre sends them: lists comma-joined, None dropped."""
    formatted = {}
    for name, value in parameters.items():
        if value is None:
            continue
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        formatted[str(name)] = str(value)
    return formatted


def show_hook_logs() -> None:
    """Hooks log through Sceptre's loggers (uploads, skips): show them as Sceptre does."""
    logger = logging.getLogger("sceptre.hooks")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("  %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
