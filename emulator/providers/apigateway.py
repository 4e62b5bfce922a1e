"""CloudFormation provider for ``AWS::ApiGateway::Account``: the account and region's API
Gateway settings, of which the templates set the CloudWatch role.

moto has the API (``get-account``, ``update-account``) but no CloudFormation model. As on
AWS, the resource is a singleton setting: creating it sets the role (checked like
``update-account``: the role must exist and trust API Gateway), and deleting it leaves the
setting as it is.
"""

from __future__ import annotations

from moto.apigateway.models import apigateway_backends
from moto.core.common_models import CloudFormationModel

from aws_fidelity import rules
from emulator import strict

from .base import Properties, ProviderResource


class ApiGatewayAccount(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGateway::Account"
    ATTRIBUTES = {"Id": "physical_resource_id"}

    @property
    def physical_resource_id(self) -> str:
        # CloudFormation returns a generated id; the account has no name of its own.
        return f"{self.account_id}-{self.region_name}-apigateway-account"

    def create(self) -> None:
        role_arn = self.properties.get("CloudWatchRoleArn")
        if role_arn:
            rules.check_cloudwatch_role(
                str(role_arn), strict.trusted_services(self.account_id, str(role_arn))
            )
        apigateway_backends[self.account_id][self.region_name].update_account(
            [{"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}]
        )

    def apply_update(self, old: Properties) -> None:
        self.create()

    def destroy(self) -> None:
        """AWS leaves the account's settings in place when the resource is deleted."""
