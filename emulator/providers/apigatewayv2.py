"""AWS::ApiGatewayV2::* providers backed by moto's apigatewayv2 backend.

moto 5.2.5 has the ApiGatewayV2 REST API but no CloudFormation models for it,
so stacks silently skipped these resources. Each class below creates the real
object in ``apigatewayv2_backends`` so ``boto3.client("apigatewayv2")`` sees it.

moto stores request bodies as-is (camelCase, REST style) and echoes them in
responses, so CloudFormation's PascalCase sub-structures are converted here.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from moto.acm.exceptions import CertificateNotFound
from moto.acm.models import acm_backends
from moto.apigatewayv2.models import (
    Api,
    ApiGatewayV2Backend,
    ApiMapping,
    Stage,
    apigatewayv2_backends,
)
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.core.common_models import CloudFormationModel
from tunnel_shared.names import execute_api_host

from aws_fidelity import rules
from emulator import strict

from .base import Properties, ProviderResource, tags_as_dict

# API Gateway's regional endpoint hosted zones (Route 53 alias targets).
_REGIONAL_HOSTED_ZONES = {
    "us-east-1": "Z1UJRXOUMOOFQ8",
    "us-east-2": "ZOJJZC49E0EPZ",
    "us-west-1": "Z2MUQ32089INYE",
    "us-west-2": "Z2OJLYMUO9EFXC",
    "eu-west-1": "ZLY8HYME6SFDD",
    "eu-west-2": "ZJ5UAJN8Y3Z2Q",
    "eu-central-1": "Z1U9ULNL0V5AJ3",
    "ap-southeast-1": "ZL327KTPIQFUL",
    "ap-southeast-2": "Z2RPCDW04V8134",
    "ap-northeast-1": "Z1YSHQZHG15GKL",
}


def _backend(account_id: str, region_name: str) -> ApiGatewayV2Backend:
    return apigatewayv2_backends[account_id][region_name]


def _camel_keys(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """{"DestinationArn": x} -> {"destinationArn": x} (one level: the values of
    these structures are scalars or lists, and user-keyed maps must not change)."""
    if value is None:
        return None
    return {k[:1].lower() + k[1:]: v for k, v in value.items()}


def _flag(value: Any) -> bool:
    """A template boolean: true/false, or the strings "true"/"false" (any case) that
    parameters and conditions give."""
    return str(value).lower() == "true" if value is not None else False


def _random_id(length: int) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(length))


class ApiGatewayV2Api(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGatewayV2::Api"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = {"ApiId": "api_id", "ApiEndpoint": "api_endpoint"}
    REPLACE_ON = frozenset({"ProtocolType"})

    api_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.api_id

    @property
    def api_endpoint(self) -> str:
        return self._api().api_endpoint

    def _api(self) -> Api:
        return _backend(self.account_id, self.region_name).get_api(self.api_id)

    def create(self) -> None:
        p = self.properties
        backend = _backend(self.account_id, self.region_name)
        api = backend.create_api(
            api_key_selection_expression=p.get("ApiKeySelectionExpression"),
            cors_configuration=_camel_keys(p.get("CorsConfiguration")),
            description=p.get("Description"),
            disable_schema_validation=p.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=_flag(p.get("DisableExecuteApiEndpoint")),
            name=p.get("Name", self.name),
            protocol_type=p.get("ProtocolType", "HTTP"),
            route_selection_expression=p.get("RouteSelectionExpression"),
            tags=tags_as_dict(p.get("Tags")),
            version=p.get("Version"),
        )
        if api.protocol_type == "WEBSOCKET":
            # moto always builds https://; real WebSocket APIs answer on wss://.
            api.api_endpoint = f"wss://{execute_api_host(api.api_id, self.region_name)}"
        self.api_id = api.api_id

    def apply_update(self, old: Properties) -> None:
        p = self.properties
        api = self._api()
        # Assign directly (moto's update_api ignores None, so removals would stick).
        api.name = p.get("Name", api.name)
        api.description = p.get("Description")
        api.version = p.get("Version")
        api.cors_configuration = _camel_keys(p.get("CorsConfiguration"))
        api.disable_schema_validation = p.get("DisableSchemaValidation")
        # get_api reports it; the local gateway refuses the execute-api host when it is true.
        api.disable_execute_api_endpoint = _flag(p.get("DisableExecuteApiEndpoint"))
        api.api_key_selection_expression = (
            p.get("ApiKeySelectionExpression") or "$request.header.x-api-key"
        )
        api.route_selection_expression = (
            p.get("RouteSelectionExpression") or "$request.method $request.path"
        )
        backend = _backend(self.account_id, self.region_name)
        backend.tagger.delete_all_tags_for_resource(api.arn)
        backend.tag_resource(api.arn, tags_as_dict(p.get("Tags")))

    def destroy(self) -> None:
        backend = _backend(self.account_id, self.region_name)
        api = backend.apis.get(self.api_id)
        if api is not None:
            backend.tagger.delete_all_tags_for_resource(api.arn)
            backend.delete_api(self.api_id)


class _ApiChild(ProviderResource):
    """A resource living inside an Api (moto keeps it in a dict on the Api)."""

    REPLACE_ON = frozenset({"ApiId"})

    @property
    def api_id(self) -> str:
        return str(self.properties["ApiId"])

    def _api(self) -> Api:
        return _backend(self.account_id, self.region_name).get_api(self.api_id)

    def _api_or_none(self) -> Api | None:
        return _backend(self.account_id, self.region_name).apis.get(self.api_id)


class ApiGatewayV2Integration(_ApiChild, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGatewayV2::Integration"
    ATTRIBUTES = {"IntegrationId": "integration_id"}

    integration_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.integration_id

    def _build(self) -> str:
        p = self.properties
        timeout = p.get("TimeoutInMillis")
        integration = self._api().create_integration(
            connection_type=p.get("ConnectionType", "INTERNET"),
            description=p.get("Description"),
            integration_method=p.get("IntegrationMethod"),
            integration_type=p["IntegrationType"],
            integration_uri=p.get("IntegrationUri"),
            connection_id=p.get("ConnectionId"),
            content_handling_strategy=p.get("ContentHandlingStrategy"),
            credentials_arn=p.get("CredentialsArn"),
            passthrough_behavior=p.get("PassthroughBehavior"),
            # API Gateway reports 1.0 when none was given.
            payload_format_version=p.get("PayloadFormatVersion", "1.0"),
            integration_subtype=p.get("IntegrationSubtype"),
            request_parameters=p.get("RequestParameters"),
            request_templates=p.get("RequestTemplates"),
            response_parameters=p.get("ResponseParameters"),
            template_selection_expression=p.get("TemplateSelectionExpression"),
            timeout_in_millis=int(timeout) if timeout is not None else None,
            tls_config=_camel_keys(p.get("TlsConfig")),
        )
        return str(integration.id)

    def create(self) -> None:
        self.integration_id = self._build()

    def apply_update(self, old: Properties) -> None:
        # Rebuild from the full property set (so removed properties fall back to
        # defaults), then move the new object under the existing id.
        api = self._api()
        fresh = api.integrations.pop(self._build())
        fresh.id = self.integration_id
        # Its integration responses are resources of their own: they stay with it.
        fresh.responses = api.integrations[self.integration_id].responses
        api.integrations[self.integration_id] = fresh

    def destroy(self) -> None:
        api = self._api_or_none()
        if api is not None:
            api.delete_integration(self.integration_id)


class ApiGatewayV2Route(_ApiChild, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGatewayV2::Route"
    ATTRIBUTES = {"RouteId": "route_id"}

    route_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.route_id

    def _build(self) -> str:
        p = self.properties
        request_parameters = p.get("RequestParameters")
        route = self._api().create_route(
            api_key_required=bool(p.get("ApiKeyRequired", False)),
            authorization_scopes=p.get("AuthorizationScopes"),
            route_key=p["RouteKey"],
            target=p.get("Target"),
            authorization_type=p.get("AuthorizationType", "NONE"),
            authorizer_id=p.get("AuthorizerId"),
            model_selection_expression=p.get("ModelSelectionExpression"),
            operation_name=p.get("OperationName"),
            request_models=p.get("RequestModels"),
            request_parameters=(
                {k: _camel_keys(v) for k, v in request_parameters.items()}
                if request_parameters
                else None
            ),
            route_response_selection_expression=p.get("RouteResponseSelectionExpression"),
        )
        return str(route.route_id)

    def create(self) -> None:
        self.route_id = self._build()

    def apply_update(self, old: Properties) -> None:
        # Same rebuild-under-the-old-id approach as integrations: moto's
        # update_route cannot clear a property (e.g. AuthorizerId -> none).
        api = self._api()
        fresh = api.routes.pop(self._build())
        fresh.route_id = self.route_id
        api.routes[self.route_id] = fresh

    def destroy(self) -> None:
        api = self._api_or_none()
        if api is not None:
            api.delete_route(self.route_id)


class ApiGatewayV2IntegrationResponse(_ApiChild, CloudFormationModel):
    """A non-proxy integration's response (a MOCK $connect's), kept on its integration."""

    CFN_TYPE = "AWS::ApiGatewayV2::IntegrationResponse"
    ATTRIBUTES = {"IntegrationResponseId": "integration_response_id"}
    REPLACE_ON = frozenset({"ApiId", "IntegrationId"})

    integration_response_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.integration_response_id

    @property
    def integration_id(self) -> str:
        return str(self.properties["IntegrationId"])

    def _build(self) -> str:
        p = self.properties
        response = _backend(self.account_id, self.region_name).create_integration_response(
            api_id=self.api_id,
            integration_id=self.integration_id,
            content_handling_strategy=p.get("ContentHandlingStrategy"),
            integration_response_key=p["IntegrationResponseKey"],
            response_parameters=p.get("ResponseParameters"),
            response_templates=p.get("ResponseTemplates"),
            template_selection_expression=p.get("TemplateSelectionExpression"),
        )
        return str(response.id)

    def create(self) -> None:
        self.integration_response_id = self._build()

    def apply_update(self, old: Properties) -> None:
        integration = self._api().get_integration(self.integration_id)
        fresh = integration.responses.pop(self._build())
        fresh.id = self.integration_response_id
        integration.responses[self.integration_response_id] = fresh

    def destroy(self) -> None:
        api = self._api_or_none()
        integration = api.integrations.get(self.integration_id) if api else None
        if integration is not None:
            integration.responses.pop(self.integration_response_id, None)


class ApiGatewayV2Authorizer(_ApiChild, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGatewayV2::Authorizer"
    ATTRIBUTES = {"AuthorizerId": "authorizer_id"}

    authorizer_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.authorizer_id

    def _build(self) -> str:
        p = self.properties
        ttl = p.get("AuthorizerResultTtlInSeconds")
        authorizer = _backend(self.account_id, self.region_name).create_authorizer(
            api_id=self.api_id,
            auth_creds_arn=p.get("AuthorizerCredentialsArn"),
            auth_payload_format_version=p.get("AuthorizerPayloadFormatVersion"),
            auth_result_ttl=int(ttl) if ttl is not None else None,
            authorizer_uri=p.get("AuthorizerUri"),
            authorizer_type=p["AuthorizerType"],
            enable_simple_response=p.get("EnableSimpleResponses"),
            identity_source=p.get("IdentitySource"),
            identity_validation_expr=p.get("IdentityValidationExpression"),
            jwt_config=_camel_keys(p.get("JwtConfiguration")),
            name=p["Name"],
        )
        return str(authorizer.id)

    def create(self) -> None:
        self.authorizer_id = self._build()

    def apply_update(self, old: Properties) -> None:
        api = self._api()
        fresh = api.authorizers.pop(self._build())
        fresh.id = self.authorizer_id
        api.authorizers[self.authorizer_id] = fresh

    def destroy(self) -> None:
        api = self._api_or_none()
        if api is not None:
            api.delete_authorizer(self.authorizer_id)


class ApiGatewayV2Deployment(_ApiChild, CloudFormationModel):
    """moto has no ApiGatewayV2 deployment API at all: the deployment is only an
    id here, recorded on the stage named by StageName (see _stage_to_json)."""

    CFN_TYPE = "AWS::ApiGatewayV2::Deployment"
    ATTRIBUTES = {"DeploymentId": "deployment_id"}

    deployment_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.deployment_id

    def _attach_to_stage(self) -> None:
        stage_name = self.properties.get("StageName")
        if stage_name:
            self._api().get_stage(stage_name).config["deploymentId"] = self.deployment_id

    def create(self) -> None:
        self._api()  # fail like AWS when the API does not exist
        self.deployment_id = _random_id(6)
        self._attach_to_stage()

    def apply_update(self, old: Properties) -> None:
        self._attach_to_stage()

    def destroy(self) -> None:
        api = self._api_or_none()
        for stage in api.stages.values() if api else []:
            if stage.config.get("deploymentId") == self.deployment_id:
                stage.config.pop("deploymentId")


def _route_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    out = _camel_keys(settings) or {}
    # Values may arrive as strings when they come from template parameters.
    if "throttlingBurstLimit" in out:
        out["throttlingBurstLimit"] = int(out["throttlingBurstLimit"])
    if "throttlingRateLimit" in out:
        out["throttlingRateLimit"] = float(out["throttlingRateLimit"])
    return out


class ApiGatewayV2Stage(_ApiChild, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGatewayV2::Stage"
    REPLACE_ON = frozenset({"ApiId", "StageName"})

    @property
    def physical_resource_id(self) -> str:
        return str(self.properties["StageName"])

    def _config(self, api: Api) -> dict[str, Any]:
        p = self.properties
        # moto replaces (not merges) its per-protocol defaults when settings are given.
        defaults: dict[str, Any] = {"detailedMetricsEnabled": False}
        if api.protocol_type == "WEBSOCKET":
            defaults.update(dataTraceEnabled=False, loggingLevel="OFF")
        config: dict[str, Any] = {
            "stageName": p["StageName"],
            "defaultRouteSettings": {**defaults, **_route_settings(p.get("DefaultRouteSettings"))},
            "routeSettings": {
                key: _route_settings(value) for key, value in (p.get("RouteSettings") or {}).items()
            },
            "stageVariables": p.get("StageVariables") or {},
            "tags": tags_as_dict(p.get("Tags")),
        }
        optional = {
            "deploymentId": p.get("DeploymentId"),
            "autoDeploy": p.get("AutoDeploy"),
            "accessLogSettings": _camel_keys(p.get("AccessLogSettings")),
            "clientCertificateId": p.get("ClientCertificateId"),
            "description": p.get("Description"),
        }
        config.update({k: v for k, v in optional.items() if v is not None})
        return config

    def create(self) -> None:
        api = self._api()
        strict.check_stage(api, self.properties, self.account_id, self.region_name)
        api.create_stage(self._config(api))

    def apply_update(self, old: Properties) -> None:
        api = self._api()
        strict.check_stage(api, self.properties, self.account_id, self.region_name)
        previous = api.get_stage(str(self.properties["StageName"]))
        config = self._config(api)
        if "deploymentId" not in config and "deploymentId" in previous.config:
            # Keep an association made by an AWS::ApiGatewayV2::Deployment.
            config["deploymentId"] = previous.config["deploymentId"]
        stage = api.create_stage(config)  # same name: replaces the moto object
        stage.created = previous.created
        stage.updated = datetime.now()

    def destroy(self) -> None:
        api = self._api_or_none()
        if api is not None:
            api.delete_stage(str(self.properties["StageName"]))


class ApiGatewayV2DomainName(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGatewayV2::DomainName"
    NAME_PROPERTY = "DomainName"
    ATTRIBUTES = {
        "RegionalDomainName": "regional_domain_name",
        "RegionalHostedZoneId": "regional_hosted_zone_id",
        "DomainNameArn": "domain_name_arn",
    }
    REPLACE_ON = frozenset({"DomainName"})

    regional_domain_name: str

    @property
    def physical_resource_id(self) -> str:
        return str(self.properties["DomainName"])

    @property
    def regional_hosted_zone_id(self) -> str:
        fallback = "Z" + hashlib.sha256(self.region_name.encode()).hexdigest()[:12].upper()
        return _REGIONAL_HOSTED_ZONES.get(self.region_name, fallback)

    @property
    def domain_name_arn(self) -> str:
        backend = _backend(self.account_id, self.region_name)
        return str(backend.get_domain_name(self.physical_resource_id).domain_name_arn)

    def _configurations(self) -> list[dict[str, Any]]:
        # API Gateway fills in the target name, zone and status; so do we.
        return [
            {
                "apiGatewayDomainName": self.regional_domain_name,
                "hostedZoneId": self.regional_hosted_zone_id,
                "domainNameStatus": "AVAILABLE",
                "endpointType": "REGIONAL",
                **(_camel_keys(config) or {}),
            }
            for config in self.properties.get("DomainNameConfigurations") or [{}]
        ]

    def _check_certificates(self) -> None:
        """A REGIONAL domain takes only an ISSUED certificate of the stack's own region."""
        for config in self.properties.get("DomainNameConfigurations") or []:
            arn = (config or {}).get("CertificateArn")
            if arn and str(config.get("EndpointType", "REGIONAL")).upper() == "REGIONAL":
                rules.check_domain_certificate(
                    str(arn),
                    self.region_name,
                    self.account_id,
                    _certificate_status(str(arn), self.account_id, self.region_name),
                )

    def create(self) -> None:
        self._check_certificates()
        self.regional_domain_name = execute_api_host(f"d-{_random_id(10)}", self.region_name)
        _backend(self.account_id, self.region_name).create_domain_name(
            domain_name=self.physical_resource_id,
            domain_name_configurations=self._configurations(),
            mutual_tls_authentication=_camel_keys(self.properties.get("MutualTlsAuthentication")),
            tags=tags_as_dict(self.properties.get("Tags")),
        )

    def apply_update(self, old: Properties) -> None:
        self._check_certificates()
        domain = _backend(self.account_id, self.region_name).get_domain_name(
            self.physical_resource_id
        )
        domain.domain_name_configurations = self._configurations()
        domain.mutual_tls_authentication = _camel_keys(
            self.properties.get("MutualTlsAuthentication")
        )
        domain.tags = tags_as_dict(self.properties.get("Tags"))

    def destroy(self) -> None:
        backend = _backend(self.account_id, self.region_name)
        name = self.physical_resource_id
        # moto's delete_domain_name deletes mappings while iterating the same
        # dict (RuntimeError when one exists), so drop them first.
        for mapping_id in [k for k, m in backend.api_mappings.items() if m.domain_name == name]:
            del backend.api_mappings[mapping_id]
        if name in backend.domain_names:
            backend.delete_domain_name(name)


def _certificate_status(arn: str, account_id: str, region_name: str) -> str | None:
    """The certificate's ACM status in the account and region, None if ACM has no such one."""
    try:
        return str(acm_backends[account_id][region_name].get_certificate(arn).status)
    except CertificateNotFound:
        return None


def _is_rest_api(api_id: str, account_id: str, region_name: str) -> bool:
    from moto.apigateway.models import apigateway_backends

    return api_id in apigateway_backends[account_id][region_name].apis


class ApiGatewayV2ApiMapping(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::ApiGatewayV2::ApiMapping"
    ATTRIBUTES = {"ApiMappingId": "api_mapping_id"}
    REPLACE_ON = frozenset({"DomainName"})

    api_mapping_id: str

    @property
    def physical_resource_id(self) -> str:
        return self.api_mapping_id

    def create(self) -> None:
        p = self.properties
        backend = _backend(self.account_id, self.region_name)
        if p["ApiId"] not in backend.apis and _is_rest_api(
            str(p["ApiId"]), self.account_id, self.region_name
        ):
            # A V2 mapping maps a regional REST API's stage too ("You can map HTTP and REST
            # API stages to the same custom domain name", rest-api-mappings.html); moto's
            # create_api_mapping knows only V2 APIs, so the mapping is stored here.
            if p["DomainName"] not in backend.domain_names:
                backend.create_api_mapping("", "", str(p["DomainName"]), "")  # its own error
            self.api_mapping_id = _random_id(6)
            backend.api_mappings[self.api_mapping_id] = ApiMapping(
                domain_name=p["DomainName"],
                api_id=p["ApiId"],
                api_mapping_key=p.get("ApiMappingKey", ""),
                api_mapping_id=self.api_mapping_id,
                stage=p["Stage"],
            )
            return
        mapping = backend.create_api_mapping(
            api_id=p["ApiId"],
            api_mapping_key=p.get("ApiMappingKey", ""),
            domain_name=p["DomainName"],
            stage=p["Stage"],
        )
        self.api_mapping_id = mapping.api_mapping_id

    def apply_update(self, old: Properties) -> None:
        p = self.properties
        mapping: ApiMapping = _backend(self.account_id, self.region_name).get_api_mapping(
            self.api_mapping_id, p["DomainName"]
        )
        mapping.api_id = p["ApiId"]
        mapping.api_mapping_key = p.get("ApiMappingKey", "")
        mapping.stage = p["Stage"]

    def destroy(self) -> None:
        _backend(self.account_id, self.region_name).api_mappings.pop(self.api_mapping_id, None)


# --- gaps in moto's ApiGatewayV2 REST API that hide what the stacks created ---

_original_stage_to_json = Stage.to_json


def _stage_to_json(self: Stage) -> dict[str, Any]:
    # moto keeps deploymentId in the stage config but never returns it.
    result = _original_stage_to_json(self)
    if self.config.get("deploymentId"):
        result["deploymentId"] = self.config["deploymentId"]
    return result


Stage.to_json = _stage_to_json  # type: ignore[method-assign]


def _get_authorizers(self: ApiGatewayV2Response) -> tuple[int, dict[str, str], str]:
    # moto routes GET /v2/apis/{apiId}/authorizers but never implemented it.
    api = self.apigatewayv2_backend.get_api(self.path.split("/")[-2])
    return 200, {}, json.dumps({"items": [a.to_json() for a in api.authorizers.values()]})


ApiGatewayV2Response.get_authorizers = _get_authorizers  # type: ignore[attr-defined]


def _with_decoded_path(handler: Any) -> Any:
    """moto reads a domain name out of the raw path, still percent-encoded: a wildcard domain
    (``*.tunnel.example.com``, which botocore sends as ``%2A.tunnel.example.com``) was never
    found, and ``get_api_mappings`` silently listed nothing for it."""

    def decoded(self: ApiGatewayV2Response) -> Any:
        self.path = unquote(self.path)
        return handler(self)

    return decoded


for _name in (
    "get_domain_name",
    "delete_domain_name",
    "create_api_mapping",
    "get_api_mapping",
    "get_api_mappings",
    "delete_api_mapping",
):
    setattr(ApiGatewayV2Response, _name, _with_decoded_path(getattr(ApiGatewayV2Response, _name)))
