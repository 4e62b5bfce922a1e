"""CloudFormation providers for ``AWS::ApiGateway::*``: the account and region's API Gateway
settings (``Account``, of which the templates set the CloudWatch role), and the public REST API
of environments with a custom domain (below).

moto has the API (``get-account``, ``update-account``) but no CloudFormation model. As on
AWS, the resource is a singleton setting: creating it sets the role (checked like
``update-account``: the role must exist and trust API Gateway), and deleting it leaves the
setting as it is.
"""

from __future__ import annotations

from typing import Any

from moto.apigateway.models import APIGatewayBackend, apigateway_backends
from moto.apigateway.models import Integration as MotoIntegration
from moto.core.common_models import CloudFormationModel

from aws_fidelity import rules
from emulator import strict

from .base import Properties, ProviderResource, tags_as_dict


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


# --- The public REST API (environments with a custom domain) --------------------------------
#
# moto 5.2.5 has CloudFormation models for RestApi, Resource, Method and Deployment, but they
# drop what the tunnel relies on (DisableExecuteApiEndpoint, the integration's timeout and
# ResponseTransferMode), never delete anything, and there is no model for Stage at all. These
# providers replace them (moto's type map keeps the last model of a type: ours) and create the
# real objects in moto's apigateway backend, so boto3's ``apigateway`` client shows them.


def _rest_backend(account_id: str, region_name: str) -> APIGatewayBackend:
    return apigateway_backends[account_id][region_name]


def _integration_to_json(self: MotoIntegration) -> dict[str, Any]:
    # moto does not know ResponseTransferMode; botocore does (Integration.responseTransferMode).
    result = _original_integration_to_json(self)
    result["responseTransferMode"] = getattr(self, "response_transfer_mode", None) or "BUFFERED"
    return result


_original_integration_to_json = MotoIntegration.to_json
MotoIntegration.to_json = _integration_to_json  # type: ignore[method-assign]


class ApiGatewayRestApi(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGateway::RestApi"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = {"RootResourceId": "root_resource_id", "RestApiId": "rest_api_id"}

    rest_api_id: str
    root_resource_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.rest_api_id

    def create(self) -> None:
        p = self.properties
        types = (p.get("EndpointConfiguration") or {}).get("Types") or ["EDGE"]
        api = _rest_backend(self.account_id, self.region_name).create_rest_api(
            name=str(p["Name"]),
            description=str(p.get("Description", "")),
            endpoint_configuration={"types": list(types)},  # type: ignore[arg-type]
            tags=tags_as_dict(p.get("Tags")),  # type: ignore[arg-type]
            disable_execute_api_endpoint=str(p.get("DisableExecuteApiEndpoint")).lower() == "true",
        )
        api.binaryMediaTypes = _binary_media_types(p)
        self.rest_api_id = api.id
        self.root_resource_id = api.root_resource_id

    def apply_update(self, old: Properties) -> None:
        api = _rest_backend(self.account_id, self.region_name).get_rest_api(self.rest_api_id)
        p = self.properties
        api.name = str(p["Name"])
        api.description = str(p.get("Description", ""))
        api.disableExecuteApiEndpoint = str(p.get("DisableExecuteApiEndpoint")).lower() == "true"
        api.binaryMediaTypes = _binary_media_types(p)

    def destroy(self) -> None:
        _rest_backend(self.account_id, self.region_name).apis.pop(self.rest_api_id, None)


def _binary_media_types(properties: Properties) -> list[str]:
    """BinaryMediaTypes as API Gateway keeps them: a template writes "/" as "~1"
    (AWS::ApiGateway::RestApi, BinaryMediaTypes: "Slashes must be escaped with ~1"), the API
    reads "image/png" (moto's own model dropped the property)."""
    return [str(t).replace("~1", "/") for t in properties.get("BinaryMediaTypes") or []]


class _RestChild(ProviderResource):
    """A resource inside a REST API, which may be gone already when the stack is deleted."""

    def _api(self) -> Any:
        backend = _rest_backend(self.account_id, self.region_name)
        return backend.apis.get(str(self.properties["RestApiId"]))


class ApiGatewayResource(_RestChild, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGateway::Resource"
    ATTRIBUTES = {"ResourceId": "resource_id"}
    REPLACE_ON = frozenset({"RestApiId", "ParentId", "PathPart"})

    resource_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.resource_id

    def create(self) -> None:
        p = self.properties
        resource = _rest_backend(self.account_id, self.region_name).create_resource(
            function_id=str(p["RestApiId"]),
            parent_resource_id=str(p["ParentId"]),
            path_part=str(p["PathPart"]),
        )
        self.resource_id = resource.id

    def apply_update(self, old: Properties) -> None:
        """Every property replaces it."""

    def destroy(self) -> None:
        api = self._api()
        if api is not None:
            api.resources.pop(self.resource_id, None)


class ApiGatewayMethod(_RestChild, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGateway::Method"
    REPLACE_ON = frozenset({"RestApiId", "ResourceId", "HttpMethod"})

    @property
    def physical_resource_id(self) -> str:
        p = self.properties
        return f"{p['RestApiId']}-{p['ResourceId']}-{p['HttpMethod']}"

    def create(self) -> None:
        p = self.properties
        backend = _rest_backend(self.account_id, self.region_name)
        api_id, resource_id, method = (
            str(p["RestApiId"]),
            str(p["ResourceId"]),
            str(p["HttpMethod"]),
        )
        backend.put_method(
            function_id=api_id,
            resource_id=resource_id,
            method_type=method,
            authorization_type=str(p.get("AuthorizationType", "NONE")),
            api_key_required=bool(p.get("ApiKeyRequired", False)),
        )
        integration = p.get("Integration")
        if not integration:
            return
        timeout = integration.get("TimeoutInMillis")
        put = backend.put_integration(
            function_id=api_id,
            resource_id=resource_id,
            method_type=method,
            integration_type=str(integration["Type"]),
            uri=str(integration.get("Uri", "")),
            integration_method=str(integration.get("IntegrationHttpMethod", "")),
            timeout_in_millis=int(timeout) if timeout is not None else None,  # type: ignore[arg-type]
        )
        put.response_transfer_mode = str(  # type: ignore[attr-defined]
            integration.get("ResponseTransferMode", "BUFFERED")
        )

    def apply_update(self, old: Properties) -> None:
        self.destroy()
        self.create()

    def destroy(self) -> None:
        api = self._api()
        resource = api.resources.get(str(self.properties["ResourceId"])) if api else None
        if resource is not None:
            resource.resource_methods.pop(str(self.properties["HttpMethod"]), None)


class ApiGatewayDeployment(_RestChild, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGateway::Deployment"
    ATTRIBUTES = {"DeploymentId": "deployment_id"}
    REPLACE_ON = frozenset({"RestApiId"})

    deployment_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.deployment_id

    def create(self) -> None:
        p = self.properties
        # Without StageName: the stage is its own resource (AWS::ApiGateway::Stage). Straight
        # on the API: moto's backend call checks for methods in an order its stack updates do
        # not follow (DependsOn puts the methods first, as on AWS).
        api = _rest_backend(self.account_id, self.region_name).get_rest_api(str(p["RestApiId"]))
        deployment = api.create_deployment(
            p.get("StageName"),  # type: ignore[arg-type]
            str(p.get("Description", "")),
        )
        self.deployment_id = deployment.id

    def apply_update(self, old: Properties) -> None:
        api = self._api()
        if api is not None and self.deployment_id in api.deployments:
            api.deployments[self.deployment_id].description = str(
                self.properties.get("Description", "")
            )

    def destroy(self) -> None:
        api = self._api()
        if api is not None:
            api.deployments.pop(self.deployment_id, None)


class ApiGatewayStage(_RestChild, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGateway::Stage"
    REPLACE_ON = frozenset({"RestApiId", "StageName"})

    @property
    def physical_resource_id(self) -> str:
        return str(self.properties["StageName"])

    def create(self) -> None:
        p = self.properties
        api_id, name = str(p["RestApiId"]), str(p["StageName"])
        stage = _rest_backend(self.account_id, self.region_name).create_stage(
            function_id=api_id,
            stage_name=name,
            deploymentId=str(p["DeploymentId"]),
            variables=dict(p.get("Variables") or {}),
            description=str(p.get("Description", "")),
            tags=tags_as_dict(p.get("Tags")),
            tracing_enabled=str(p.get("TracingEnabled")).lower() == "true",
        )
        self._settle(stage)

    def _settle(self, stage: Any) -> None:
        p = self.properties
        log = p.get("AccessLogSetting")
        stage.access_log_settings = (
            {"destinationArn": log.get("DestinationArn"), "format": log.get("Format")}
            if log
            else None
        )
        # GetStage's methodSettings: "<resource path>/<method>" -> its settings.
        stage.method_settings = {
            f"{str(s.get('ResourcePath', '/*')).lstrip('/')}/{s.get('HttpMethod', '*')}": {
                "throttlingBurstLimit": int(s["ThrottlingBurstLimit"]),
                "throttlingRateLimit": float(s["ThrottlingRateLimit"]),
            }
            for s in p.get("MethodSettings") or []
            if "ThrottlingBurstLimit" in s and "ThrottlingRateLimit" in s
        }

    def apply_update(self, old: Properties) -> None:
        api = self._api()
        stage = api.stages.get(str(self.properties["StageName"])) if api else None
        if stage is None:
            self.create()
            return
        stage.deployment_id = str(self.properties["DeploymentId"])
        stage.description = str(self.properties.get("Description", ""))
        self._settle(stage)

    def destroy(self) -> None:
        api = self._api()
        if api is not None:
            api.stages.pop(str(self.properties["StageName"]), None)
