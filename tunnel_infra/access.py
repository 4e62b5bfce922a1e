"""What a function may touch, and the IAM policy that follows from it.

Like CDK's ``grant*`` methods, a resource grants access to a function; unlike them, a grant names
exact actions on one exact ARN (a table, one stage's ``POST/@connections/*``), never a bundle.

The resources live in other stacks. In the functions stack each one arrives as a Parameter, filled
by ``!stack_output``, and reaches the function's code as an environment variable. The target knows
all three names, so a grant is the only thing a function declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from awacs.aws import Action, Allow, PolicyDocument, Statement
from troposphere import AWSHelperFn, Ref, Sub
from tunnel_shared.names import EXECUTE_API_HOST


class Target(Protocol):
    """A resource of another stack that functions can be granted access to."""

    @property
    def parameter(self) -> str: ...  # the functions stack's Parameter that carries its id

    @property
    def environment_variable(self) -> str: ...

    def arn(self, environment: str) -> AWSHelperFn | str: ...

    def environment_value(self, environment: str) -> AWSHelperFn: ...


@dataclass(frozen=True)
class Grant:
    """Exact actions on one resource."""

    target: Target
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Table:
    """A DynamoDB table, named ``http-tunnel-<key>-<env>``."""

    key: str  # "tokens"
    hash_key: str

    @property
    def title(self) -> str:  # "Tokens"
        return "".join(part.capitalize() for part in self.key.split("-"))

    @property
    def logical_id(self) -> str:
        return f"{self.title}Table"

    @property
    def parameter(self) -> str:
        return f"{self.title}TableName"

    @property
    def environment_variable(self) -> str:
        return f"{self.key.replace('-', '_').upper()}_TABLE"

    def arn(self, environment: str) -> AWSHelperFn:
        return Sub(_TABLE_ARN.format(table=f"${{{self.parameter}}}"))

    def environment_value(self, environment: str) -> AWSHelperFn:
        return Ref(self.parameter)

    def grant(self, *actions: Action) -> Grant:
        return Grant(self, actions)


@dataclass(frozen=True)
class WebSocketConnections:
    """The WebSocket API's @connections management API, on the environment's stage only, for
    one method: POST is PostToConnection, GET GetConnection, DELETE DeleteConnection."""

    method: str = "POST"
    parameter: str = "WebSocketApiId"
    environment_variable: str = "CONNECTIONS_ENDPOINT"

    def arn(self, environment: str) -> AWSHelperFn:
        return Sub(
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
            f"${{{self.parameter}}}/{environment}/{self.method}/@connections/*"
        )

    def environment_value(self, environment: str) -> AWSHelperFn:
        return Sub(f"https://{_host(self.parameter)}/{environment}")

    def grant(self, *actions: Action) -> Grant:
        return Grant(self, actions)


@dataclass(frozen=True)
class WebSocketRoute:
    """One route of a WebSocket API with IAM authorization, on the environment's stage: what a
    caller signed for ``execute-api:Invoke`` may connect to (``$connect``). The function gets
    the stage's ``wss://`` URL."""

    route_key: str = "$connect"
    parameter: str = "AnswersApiId"
    environment_variable: str = "ANSWERS_URL"

    def arn(self, environment: str) -> AWSHelperFn:
        # WebSocket routes: arn:...:execute-api:<region>:<account>:<api-id>/<stage>/<route-key>
        # ("Control access to WebSocket APIs with IAM authorization").
        return Sub(
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
            f"${{{self.parameter}}}/{environment}/{self.route_key}"
        )

    def environment_value(self, environment: str) -> AWSHelperFn:
        return Sub(f"wss://{_host(self.parameter)}/{environment}")

    def grant(self, *actions: Action) -> Grant:
        return Grant(self, actions)


@dataclass(frozen=True)
class Secret:
    """A Secrets Manager secret, by its full ARN."""

    key: str  # "signing-key"

    @property
    def title(self) -> str:
        return "".join(part.capitalize() for part in self.key.split("-"))

    @property
    def parameter(self) -> str:
        return f"{self.title}SecretArn"

    @property
    def environment_variable(self) -> str:
        return f"{self.key.replace('-', '_').upper()}_SECRET_ARN"

    def arn(self, environment: str) -> AWSHelperFn:
        return Ref(self.parameter)

    def environment_value(self, environment: str) -> AWSHelperFn:
        return Ref(self.parameter)

    def grant(self, *actions: Action) -> Grant:
        return Grant(self, actions)


@dataclass(frozen=True)
class ObjectPrefix:
    """The objects under one prefix of an S3 bucket: ``<bucket>/<prefix>*``, never the bucket.

    The function reads bucket and prefix together from one variable, ``s3://<bucket>/<prefix>``,
    so the prefix is declared here only.
    """

    key: str  # "bodies"
    prefix: str  # "spill/"

    @property
    def title(self) -> str:
        return "".join(part.capitalize() for part in self.key.split("-"))

    @property
    def parameter(self) -> str:
        return f"{self.title}BucketName"

    @property
    def environment_variable(self) -> str:
        return f"{self.key.replace('-', '_').upper()}_OBJECTS"

    def arn(self, environment: str) -> AWSHelperFn:
        return Sub(f"arn:${{AWS::Partition}}:s3:::${{{self.parameter}}}/{self.prefix}*")

    def environment_value(self, environment: str) -> AWSHelperFn:
        return Sub(f"s3://${{{self.parameter}}}/{self.prefix}")

    def grant(self, *actions: Action) -> Grant:
        return Grant(self, actions)


@dataclass(frozen=True)
class Arn:
    """A resource of the function's own stack (its log group), or ``*`` where AWS accepts no ARN."""

    value: AWSHelperFn | str
    parameter: None = None
    environment_variable: None = None

    def arn(self, environment: str) -> AWSHelperFn | str:
        return self.value

    def environment_value(self, environment: str) -> None:
        return None

    def grant(self, *actions: Action) -> Grant:
        return Grant(self, actions)


def _host(parameter: str) -> str:
    """tunnel_shared.names' execute-api host of the API whose id is ``parameter``, as Sub text."""
    return EXECUTE_API_HOST.format(
        api_id=f"${{{parameter}}}", region="${AWS::Region}", url_suffix="${AWS::URLSuffix}"
    )


_TABLE_ARN = "arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}"


def policy_document(grants: list[Grant], environment: str) -> PolicyDocument:
    """One statement per resource, actions sorted: the same grants always render the same."""
    by_arn: dict[str, tuple[AWSHelperFn | str, set[str]]] = {}
    for grant in grants:
        arn = grant.target.arn(environment)
        key = repr(arn.to_dict() if isinstance(arn, AWSHelperFn) else arn)
        entry = by_arn.setdefault(key, (arn, set()))
        entry[1].update(action.JSONrepr() for action in grant.actions)
    statements = [
        Statement(
            Effect=Allow,
            Action=[Action(*name.split(":", 1)) for name in sorted(actions)],
            Resource=[arn],
        )
        for _, (arn, actions) in sorted(by_arn.items())
    ]
    return PolicyDocument(Version="2012-10-17", Statement=statements)
