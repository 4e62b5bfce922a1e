"""Make moto refuse what AWS refuses: the rules of ``aws_fidelity.rules``, applied.

- API Gateway: ``update-account`` checks the CloudWatch role (it must exist in the account and
  trust apigateway.amazonaws.com); a WebSocket stage that logs needs it, and access-log formats
  are checked per protocol, in ``CreateStage``, ``UpdateStage`` (which moto lacks; added here)
  and ``AWS::ApiGatewayV2::Stage``.
- Lambda: the account's concurrency quota is ``EMULATOR_LAMBDA_CONCURRENT_EXECUTIONS`` (default
  1000, Lambda's default; read once, when the emulator starts: set it to 10 or 50 to model a
  new account). It answers ``GetAccountSettings``, which moto lacks (ConcurrentExecutions, and
  UnreservedConcurrentExecutions = quota minus every reservation in that account and region),
  and bounds ``PutFunctionConcurrency`` and ``ReservedConcurrentExecutions`` in CloudFormation
  (create and update; removing the property removes the reservation).
- Lambda updates take time: after ``UpdateFunctionCode`` or ``UpdateFunctionConfiguration``
  through the API, the function's ``LastUpdateStatus`` is ``InProgress`` for
  ``EMULATOR_LAMBDA_UPDATE_SECONDS`` (default 0.5; read when the emulator starts), and those two
  calls and ``PublishVersion`` are refused meanwhile with 409 ``ResourceConflictException``.
  (CloudFormation's own updates of a function are not delayed: CloudFormation waits for them.)
- Lambda reads code from S3: ``UpdateFunctionCode`` with an ``S3Bucket`` or ``S3Key`` that does
  not exist is refused (400 ``InvalidParameterValueException``); moto leaves the function
  without code.
- WAF: ``CreateWebACL`` and ``UpdateWebACL`` refuse a rate-based rule out of WAF's bounds (limit
  10 to 2,000,000,000, window 60, 120, 300 or 600 s) with 400 ``WAFInvalidParameterException``;
  ``AWS::WAFv2::WebACL`` refuses it as CloudFormation's schema check does (its provider).
- CloudFormation: ``CreateStack``, ``UpdateStack`` and ``CreateChangeSet`` refuse parameters the
  template does not declare (400 ``ValidationError``; moto ignored them on create and answered
  an update whose previous template declared them with a 500 ``KeyError``).
- CloudFormation: a resource that AWS would refuse fails its stack as AWS does. The resource's
  event is ``CREATE_FAILED``/``UPDATE_FAILED`` with the refusal in CloudFormation's words
  (``Resource handler returned message: "..."``); a failed create deletes what it made and
  ends ``ROLLBACK_COMPLETE``, a failed update puts back the previous template, parameters and
  resources and ends ``UPDATE_ROLLBACK_COMPLETE``. moto would answer 500, or succeed.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from moto.apigateway import models as apigateway_models
from moto.apigateway.exceptions import BadRequestException
from moto.apigatewayv2 import models as apigatewayv2_models
from moto.apigatewayv2 import responses as apigatewayv2_responses
from moto.apigatewayv2.exceptions import BadRequestException as BadRequestV2
from moto.awslambda import exceptions as lambda_exceptions
from moto.awslambda import models as lambda_models
from moto.awslambda import responses as lambda_responses
from moto.awslambda import urls as lambda_urls
from moto.awslambda.exceptions import InvalidParameterValueException
from moto.cloudformation import exceptions as cloudformation_exceptions
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import parsing
from moto.iam.models import iam_backends
from moto.s3 import models as s3_models
from moto.wafv2 import models as wafv2_models
from moto.wafv2.exceptions import WAFv2ClientError

from aws_fidelity import rules
from emulator import lambda_rates

log = logging.getLogger(__name__)
QUOTA_VARIABLE = "EMULATOR_LAMBDA_CONCURRENT_EXECUTIONS"
UPDATE_SECONDS_VARIABLE = "EMULATOR_LAMBDA_UPDATE_SECONDS"


class ResourceRefused(Exception):
    """A resource AWS would refuse, with the logical id CloudFormation reports it under."""

    def __init__(self, logical_id: str, resource_type: str, refused: rules.Refused) -> None:
        super().__init__(f"{logical_id}: {refused}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.refused = refused


_quota: int | None = None


def read_concurrency_quota(environ: Mapping[str, str] = os.environ) -> int:
    """The account's Lambda concurrency quota: ``EMULATOR_LAMBDA_CONCURRENT_EXECUTIONS``, else
    Lambda's default. ValueError unless a positive whole number."""
    text = environ.get(QUOTA_VARIABLE, str(rules.DEFAULT_CONCURRENT_EXECUTIONS))
    quota = int(text) if text.strip().isdigit() else 0
    if quota < 1:
        raise ValueError(f"{QUOTA_VARIABLE}={text!r}: a positive whole number is needed")
    return quota


def concurrency_quota() -> int:
    """The quota read when the emulator started (``install``)."""
    global _quota
    if _quota is None:
        _quota = read_concurrency_quota()
    return _quota


# --- API Gateway ---------------------------------------------------------------------------


def cloudwatch_role_arn(account_id: str, region: str) -> str | None:
    backend = apigateway_models.apigateway_backends[account_id][region]
    return backend.account.cloudwatch_role_arn


def trusted_services(account_id: str, role_arn: str) -> set[str] | None:
    """The services role ``role_arn`` trusts; None if this account has no such role."""
    for role in iam_backends[account_id]["global"].roles.values():
        if role.arn == role_arn:
            policy = role.assume_role_policy_document
            try:
                document = json.loads(policy) if isinstance(policy, str) else policy
            except ValueError:
                return set()
            return rules.role_trusted_services(document)
    return None


def _true(value: Any) -> bool:
    # Template parameters arrive as strings: "false" is false.
    return str(value).lower() == "true"


def check_stage(api: Any, properties: dict[str, Any], account_id: str, region: str) -> None:
    """The stage rules for a stage of ``api`` with CloudFormation-style ``properties``."""
    access_logs = properties.get("AccessLogSettings") or {}
    if access_logs.get("Format"):
        rules.check_access_log_format(api.protocol_type, str(access_logs["Format"]))
    settings = [properties.get("DefaultRouteSettings") or {}]
    settings += list((properties.get("RouteSettings") or {}).values())
    logs = bool(access_logs.get("DestinationArn")) or any(
        str(s.get("LoggingLevel") or "OFF").upper() != "OFF" or _true(s.get("DataTraceEnabled"))
        for s in settings
        if isinstance(s, dict)
    )
    rules.check_websocket_stage_logging(
        api.protocol_type, logs, cloudwatch_role_arn(account_id, region)
    )


def _install_apigateway() -> None:
    original_update_account = apigateway_models.APIGatewayBackend.update_account

    def update_account(self: Any, patch_operations: list[dict[str, Any]]) -> Any:
        for op in patch_operations:
            if "/cloudwatchRoleArn" in op.get("path", "") and op.get("value"):
                try:
                    rules.check_cloudwatch_role(
                        op["value"], trusted_services(self.account_id, op["value"])
                    )
                except rules.Refused as refused:
                    raise BadRequestException(refused.message) from None
        return original_update_account(self, patch_operations)

    apigateway_models.APIGatewayBackend.update_account = update_account

    backend_class = apigatewayv2_models.ApiGatewayV2Backend
    original_create_stage = backend_class.create_stage

    def create_stage(self: Any, api_id: str, config: dict[str, Any]) -> Any:
        """The CreateStage API (the CloudFormation provider checks before it calls the model)."""
        _check_stage_config(self, api_id, config)
        return original_create_stage(self, api_id, config)

    backend_class.create_stage = create_stage
    # moto has no UpdateStage (PATCH /v2/apis/{apiId}/stages/{stageName}) at all.
    apigatewayv2_responses.ApiGatewayV2Response.update_stage = _update_stage


def _check_stage_config(backend: Any, api_id: str, config: dict[str, Any]) -> None:
    """The stage rules for a stage config as the API carries it (camelCase)."""
    properties = {
        "AccessLogSettings": _pascal(config.get("accessLogSettings")),
        "DefaultRouteSettings": _pascal(config.get("defaultRouteSettings")),
        "RouteSettings": {k: _pascal(v) for k, v in (config.get("routeSettings") or {}).items()},
    }
    try:
        check_stage(backend.get_api(api_id), properties, backend.account_id, backend.region_name)
    except rules.Refused as refused:
        raise BadRequestV2(refused.message) from None


def _update_stage(self: Any) -> tuple[int, dict[str, str], str]:
    """UpdateStage: the given fields replace the stage's (route settings merge per field and
    per route), checked like CreateStage."""
    api_id = self.path.split("/")[-3]
    stage_name = unquote(self.path.split("/")[-1])
    backend = self.apigatewayv2_backend
    stage = backend.get_stage(api_id, stage_name)
    changes = json.loads(self.body or "{}")
    config = {**stage.config, "defaultRouteSettings": stage.default_route_settings}
    for key, value in changes.items():
        if key == "defaultRouteSettings":
            config[key] = {**(config.get(key) or {}), **(value or {})}
        elif key == "routeSettings":
            merged = dict(config.get(key) or {})
            for route, settings in (value or {}).items():
                merged[route] = {**(merged.get(route) or {}), **(settings or {})}
            config[key] = merged
        else:
            config[key] = value
    config["stageName"] = stage_name
    _check_stage_config(backend, api_id, config)
    updated = backend.get_api(api_id).create_stage(config)  # same name: replaces it
    updated.created = stage.created
    updated.updated = datetime.now()
    return 200, {}, json.dumps(updated.to_json())


def _pascal(value: Any) -> Any:
    """moto's API takes the wire's camelCase keys; the rules read CloudFormation's."""
    if not isinstance(value, dict):
        return value or {}
    return {k[:1].upper() + k[1:]: v for k, v in value.items()}


# --- Lambda ---------------------------------------------------------------------------------


def _reserved_by_others(backend: Any, function_name: str) -> int:
    return sum(
        int(f.reserved_concurrency or 0)
        for f in backend.list_functions()
        if f.function_name != function_name
    )


def _install_lambda() -> None:
    def put_function_concurrency(self: Any, function_name: str, reserved: str) -> str:
        fn = self.get_function(function_name)
        try:
            rules.check_reservation(
                concurrency_quota(), _reserved_by_others(self, fn.function_name), int(reserved)
            )
        except rules.Refused as refused:
            raise InvalidParameterValueException(refused.message) from None
        fn.reserved_concurrency = reserved
        return fn.reserved_concurrency

    lambda_models.LambdaBackend.put_function_concurrency = put_function_concurrency

    def get_account_settings(self: Any) -> tuple[int, dict[str, str], str]:
        functions = self.backend.list_functions()
        quota = concurrency_quota()
        reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
        body = {
            "AccountLimit": {
                "TotalCodeSize": 80530636800,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": quota,
                "UnreservedConcurrentExecutions": quota - reserved,
            },
            "AccountUsage": {
                "TotalCodeSize": sum(int(getattr(f, "code_size", 0) or 0) for f in functions),
                "FunctionCount": len(functions),
            },
        }
        return 200, {}, json.dumps(body)

    lambda_responses.LambdaResponse.get_account_settings = get_account_settings
    lambda_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = (
        lambda_responses.LambdaResponse.dispatch
    )

    function_class = lambda_models.LambdaFunction
    original_create = function_class.create_from_cloudformation_json.__func__
    original_update = function_class.update_from_cloudformation_json.__func__

    def _check(properties: dict[str, Any], account_id: str, region: str, name: str) -> None:
        if properties.get("ReservedConcurrentExecutions") is None:
            return
        backend = lambda_models.lambda_backends[account_id][region]
        rules.check_reservation(
            concurrency_quota(),
            _reserved_by_others(backend, name),
            int(properties["ReservedConcurrentExecutions"]),
        )

    def create(cls: Any, resource_name: str, cloudformation_json: dict, account_id: str,
               region_name: str, **kwargs: Any) -> Any:  # fmt: skip
        properties = cloudformation_json.get("Properties") or {}
        name = properties.get("FunctionName") or resource_name
        _check(properties, account_id, region_name, name)
        return original_create(cls, resource_name, cloudformation_json, account_id, region_name,
                               **kwargs)  # fmt: skip

    # moto passes these by keyword: the names are moto's.
    def update(cls: Any, original_resource: Any, new_resource_name: str,
               cloudformation_json: dict, account_id: str, region_name: str) -> Any:  # fmt: skip
        properties = cloudformation_json.get("Properties") or {}
        _check(properties, account_id, region_name, original_resource.function_name)
        updated = original_update(cls, original_resource, new_resource_name,
                                  cloudformation_json, account_id, region_name)  # fmt: skip
        reserved = properties.get("ReservedConcurrentExecutions")
        # Removing the property removes the reservation (DeleteFunctionConcurrency).
        updated.reserved_concurrency = None if reserved is None else int(reserved)
        return updated

    function_class.create_from_cloudformation_json = classmethod(create)
    function_class.update_from_cloudformation_json = classmethod(update)


class ResourceConflict(lambda_exceptions.LambdaClientError):
    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ResourceConflictException", message)


def read_update_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """How long an update through the API stays InProgress: ``EMULATOR_LAMBDA_UPDATE_SECONDS``,
    else ``rules.DEFAULT_LAMBDA_UPDATE_SECONDS``. ValueError unless a number from 0 to 60."""
    text = environ.get(UPDATE_SECONDS_VARIABLE, str(rules.DEFAULT_LAMBDA_UPDATE_SECONDS))
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise ValueError(f"{UPDATE_SECONDS_VARIABLE}={text!r}: a number of seconds from 0 to 60")
    return seconds


# Function ARN -> when its update completes (time.monotonic()); guarded by the lock.
_updating_until: dict[str, float] = {}
_updates_lock = threading.Lock()


def _last_update_status(function_arn: str) -> str:
    with _updates_lock:
        return "InProgress" if _updating_until.get(function_arn, 0.0) > time.monotonic() else ""


def _check_code_object(account_id: str, partition: str, body: Mapping[str, Any]) -> None:
    bucket, key = body.get("S3Bucket"), body.get("S3Key")
    if bucket is None and key is None:
        return  # ZipFile or ImageUri
    buckets = s3_models.s3_backends[account_id][partition].buckets
    found = buckets.get(str(bucket))
    try:
        rules.check_code_object(found is not None, found is not None and str(key) in found.keys)
    except rules.Refused as refused:
        raise InvalidParameterValueException(refused.message) from None


def _install_lambda_updates(seconds: float) -> None:
    function_class = lambda_models.LambdaFunction
    original_configuration = function_class.get_configuration

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        configuration = original_configuration(self, on_create)
        if _last_update_status(self.function_arn) == "InProgress":
            configuration["LastUpdateStatus"] = "InProgress"
            configuration.pop("LastUpdateStatusReason", None)
            configuration.pop("LastUpdateStatusReasonCode", None)
        return configuration

    function_class.get_configuration = get_configuration

    def guarded(operation: str, starts_update: bool) -> Any:
        original = getattr(lambda_responses.LambdaResponse, operation)

        def handler(self: Any) -> Any:
            name = unquote(self.path.rstrip("/").rsplit("/", 2)[-2])
            try:
                fn = self.backend.get_function(name)
            except Exception:  # noqa: BLE001 - an unknown function: moto's own answer
                return original(self)
            if operation == "update_function_code":
                _check_code_object(self.current_account, self.partition, self.json_body or {})
            with _updates_lock:
                until = _updating_until.get(fn.function_arn, 0.0)
                status = "InProgress" if until > time.monotonic() else "Successful"
                try:
                    rules.check_no_update_in_progress(status, fn.function_arn)
                except rules.Refused as refused:
                    raise ResourceConflict(refused.message) from None
                if starts_update:  # before the answer is made: it says InProgress, as AWS's
                    _updating_until[fn.function_arn] = time.monotonic() + seconds
            try:
                return original(self)
            except BaseException:
                if starts_update:
                    with _updates_lock:
                        _updating_until[fn.function_arn] = until
                raise

        return handler

    responses = lambda_responses.LambdaResponse
    responses.update_function_code = guarded("update_function_code", True)
    responses.update_function_configuration = guarded("update_function_configuration", True)
    responses.publish_version = guarded("publish_version", False)


# --- CloudFormation -------------------------------------------------------------------------


# --- WAF ------------------------------------------------------------------------------------


def _install_wafv2() -> None:
    backend_class = wafv2_models.WAFV2Backend

    def checked(original: Any) -> Any:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            bound = inspect.signature(original).bind(self, *args, **kwargs)
            try:
                rules.check_rate_based_rules(bound.arguments.get("rules") or [], False)
            except rules.Refused as refused:
                raise WAFv2ClientError(refused.code, refused.message) from None
            return original(self, *args, **kwargs)

        return method

    backend_class.create_web_acl = checked(backend_class.create_web_acl)
    backend_class.update_web_acl = checked(backend_class.update_web_acl)


def _install_cloudformation() -> None:
    original_create_resource = parsing.parse_and_create_resource
    original_update_resource = parsing.parse_and_update_resource

    def create_resource(logical_id: str, resource_json: dict, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_create_resource(logical_id, resource_json, *args, **kwargs)
        except rules.Refused as refused:
            raise ResourceRefused(logical_id, resource_json.get("Type", ""), refused) from None

    def update_resource(logical_id: str, resource_json: dict, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_update_resource(logical_id, resource_json, *args, **kwargs)
        except rules.Refused as refused:
            raise ResourceRefused(logical_id, resource_json.get("Type", ""), refused) from None

    # ResourceMap looks both up in the module at call time.
    parsing.parse_and_create_resource = create_resource
    parsing.parse_and_update_resource = update_resource
    parsing.ResourceMap.delete = _delete_resources(parsing.ResourceMap.delete)

    stack_class = cloudformation_models.Stack
    original_create_resources = stack_class.create_resources
    original_update = stack_class.update

    def create_resources(self: Any) -> None:
        try:
            original_create_resources(self)
        except ResourceRefused as failed:
            _roll_back_create(self, failed)

    def update(
        self: Any,
        template: str,
        role_arn: str | None = None,
        parameters: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        previous = _Previous(self)
        try:
            original_update(self, template, role_arn, parameters, tags)
        except ResourceRefused as failed:
            _roll_back_update(self, failed, previous)
        else:
            self.status_reason = None

    stack_class.create_resources = create_resources
    stack_class.update = update

    # CreateStack resolves exported outputs (and so creates what they name) before
    # create_resources: a refusal there fails the stack the same way.
    backend_class = cloudformation_models.CloudFormationBackend
    original_create_stack = backend_class.create_stack

    def create_stack(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return original_create_stack(self, name, *args, **kwargs)
        except ResourceRefused as failed:
            stack = next(
                s for s in self.stacks.values() if s.name == name and s.status == "CREATE_PENDING"
            )
            _roll_back_create(stack, failed)
            return stack

    backend_class.create_stack = create_stack


def _delete_resources(original: Any) -> Any:
    """``DeletionPolicy: RetainExceptOnCreate`` keeps a resource as ``Retain`` does, except
    when the create that made it rolls back: then it is deleted, so a retry does not fail on
    its name. moto keeps only ``Retain`` (on rollback too) and deletes RetainExceptOnCreate
    resources with their stack.

    Sources: "DeletionPolicy attribute" (RetainExceptOnCreate "behaves like Retain for stack
    operations, except for the stack operation that initially created the resource"),
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/
    aws-attribute-deletionpolicy.html; AWS What's New, 2023-07-31, "AWS CloudFormation
    launches a new deletion policy called RetainExceptOnCreate".
    """

    def delete(self: Any, rolling_back_create: bool = False) -> None:
        if not rolling_back_create:
            self._resource_json_map = {
                key: (
                    {**value, "DeletionPolicy": "Retain"}
                    if isinstance(value, dict)
                    and value.get("DeletionPolicy") == "RetainExceptOnCreate"
                    else value
                )
                for key, value in self._resource_json_map.items()
            }
        original(self)

    return delete


def _declared_parameters(template: Any) -> set[str] | None:
    """The parameter names a template body (JSON or YAML text, or parsed) declares; None if it
    does not parse (moto reports that in its own words)."""
    parsed = template
    if isinstance(template, str):
        try:
            parsed = cloudformation_models.Stack.parse_template(template)
        except Exception:  # noqa: BLE001 - any parse failure is moto's to report
            return None
    if not isinstance(parsed, dict):
        return None
    parameters = parsed.get("Parameters")
    return set(parameters) if isinstance(parameters, dict) else set()


def _given_parameters(parameters: Any) -> list[str]:
    """Parameter keys as moto passes them on: a dict (create) or the request's list (update)."""
    if isinstance(parameters, dict):
        return [str(key) for key in parameters]
    return [str(p["ParameterKey"]) for p in parameters or [] if isinstance(p, dict)]


def _install_template_parameters() -> None:
    """CreateStack, UpdateStack and CreateChangeSet refuse parameters the template does not
    declare (rules.check_template_parameters), before anything changes."""
    backend_class = cloudformation_models.CloudFormationBackend
    for method in ("create_stack", "update_stack", "create_change_set"):
        original = getattr(backend_class, method)
        signature = inspect.signature(original)

        def checked(
            self: Any, *args: Any, _original: Any = original, _sig: Any = signature, **kwargs: Any
        ) -> Any:
            bound = _sig.bind(self, *args, **kwargs)
            arguments = {**bound.arguments, **bound.arguments.get("kwargs", {})}
            declared = _declared_parameters(arguments.get("template"))
            if declared is not None:
                try:
                    rules.check_template_parameters(
                        declared, _given_parameters(arguments.get("parameters"))
                    )
                except rules.Refused as refused:
                    raise cloudformation_exceptions.ValidationError(
                        message=refused.message
                    ) from None
            return _original(self, *args, **kwargs)

        setattr(backend_class, method, checked)


class _Previous:
    """What a stack update changes, kept to roll it back."""

    def __init__(self, stack: Any) -> None:
        self.template = stack.template
        self.template_dict = stack.template_dict
        self.parameters = stack.parameters
        self.input_parameters = stack.resource_map.input_parameters
        self.role_arn = stack.role_arn
        self.tags = stack.tags


def _roll_back_create(stack: Any, failed: ResourceRefused) -> None:
    """CloudFormation deletes what it created and leaves the stack ``ROLLBACK_COMPLETE``."""
    _fail(stack, failed, "CREATE")
    try:
        stack.resource_map.delete(rolling_back_create=True)
    except Exception as error:  # noqa: BLE001 - a rollback that leaks is logged, not raised
        log.warning("rollback of %s left resources behind: %s", stack.name, error)
    # moto's resource and output maps are lazy: reading them (ListStackResources,
    # DescribeStacks) would create the deleted resources again, the refused one included.
    stack.resource_map._resource_json_map = {}
    stack.output_map._output_json_map = {}
    stack.output_map._parsed_outputs = {}
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


def _roll_back_update(stack: Any, failed: ResourceRefused, previous: _Previous) -> None:
    """CloudFormation puts the stack back as it was (template, parameters, resources) and leaves
    it ``UPDATE_ROLLBACK_COMPLETE``. moto deletes removed resources before it adds and modifies
    (CloudFormation: at the end), so those come back as new objects with new ids."""
    _fail(stack, failed, "UPDATE")
    stack.template = previous.template
    stack.template_dict = previous.template_dict
    stack.parameters = previous.parameters
    stack.role_arn = previous.role_arn
    stack.tags = previous.tags
    try:
        # moto warns "Unable to delete X, as it was never created" for the refused resource.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stack.resource_map.update(previous.template_dict, previous.input_parameters)
    except Exception as error:  # noqa: BLE001 - reported as CloudFormation does
        log.warning("rollback of %s failed: %s", stack.name, error)
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=str(error))
        return
    stack.output_map = stack._create_output_map()
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


def handler_message(resource_type: str, refused: rules.Refused) -> str:
    """A refusal as CloudFormation reports it for a resource, e.g. (aws-samples/
    alarm-context-tool#2): ``Resource handler returned message: "Specified ... [10]. (Service:
    Lambda, Status Code: 400, Request ID: ...)" (RequestToken: ..., HandlerErrorCode:
    InvalidRequest)``; the service is the type's second part (Lambda, ApiGatewayV2,
    ApiGateway)."""
    if refused.code == rules.MODEL_VALIDATION:
        # CloudFormation's schema check refuses it before any service is called: no service,
        # status or request id (aws-cloudformation/cloudformation-coverage-roadmap#2160).
        return (
            f'Resource handler returned message: "{refused.message}" (RequestToken: '
            f"{uuid.uuid4()}, HandlerErrorCode: InvalidRequest)"
        )
    parts = resource_type.split("::")
    service = parts[1] if len(parts) == 3 else resource_type
    return (
        f'Resource handler returned message: "{refused.message} (Service: {service}, Status '
        f'Code: {refused.status}, Request ID: {uuid.uuid4()})" (RequestToken: {uuid.uuid4()}, '
        "HandlerErrorCode: InvalidRequest)"
    )


def _fail(stack: Any, failed: ResourceRefused, action: str) -> None:
    event = cloudformation_models.Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=failed.logical_id,
        physical_resource_id="",
        resource_type=failed.resource_type,
        resource_status=f"{action}_FAILED",
        resource_status_reason=handler_message(failed.resource_type, failed.refused),
        resource_properties=None,
    )
    stack.events.append(event)
    # As in aws-samples/alarm-context-tool#2: "The following resource(s) failed to create:
    # [AlarmContextFunction]. Rollback requested by user".
    stack.status_reason = (
        f"The following resource(s) failed to {action.lower()}: [{failed.logical_id}]."
        + (" Rollback requested by user." if action == "CREATE" else "")
    )
    stack._add_stack_event(
        "ROLLBACK_IN_PROGRESS" if action == "CREATE" else "UPDATE_ROLLBACK_IN_PROGRESS",
        resource_status_reason=stack.status_reason,
    )
    log.info("%s %s failed: %s", stack.name, failed.logical_id, failed.refused)


def install() -> None:
    """Apply every rule; reads the concurrency quota now (ValueError if it is malformed)."""
    global _quota
    _quota = read_concurrency_quota()
    _install_apigateway()
    _install_lambda()
    _install_lambda_updates(read_update_seconds())
    lambda_rates.install()
    _install_wafv2()
    _install_cloudformation()
    _install_template_parameters()
