"""CloudFormation resource providers for types moto 5.2.5 only pretends to create.

Importing this package does NOT import moto: the project's own virtualenv has no
moto, yet its tests read ``SUPPORTED_TYPES`` to reject templates that use a
type the emulator would silently skip. ``register()`` (emulator venv only)
imports the provider modules and checks the list against moto's model map.
"""

from __future__ import annotations

import importlib

# moto-native CloudFormation types the project uses; each was checked to create
# a real object in moto 5.2.5 (tests/emulator/test_emulator_native_types.py).
NATIVE_TYPES: frozenset[str] = frozenset(
    {
        "AWS::DynamoDB::Table",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Lambda::Function",
        "AWS::Lambda::Permission",
        "AWS::Logs::LogGroup",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::SNS::Topic",
        "AWS::S3::Bucket",
        "AWS::Route53::RecordSet",
    }
)

# Types implemented by the modules below (one module per AWS service).
PROVIDED_TYPES: frozenset[str] = frozenset(
    {
        "AWS::ApiGateway::Account",
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Resource",
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Stage",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::IntegrationResponse",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::ApiGatewayV2::Deployment",
        "AWS::ApiGatewayV2::Stage",
        "AWS::ApiGatewayV2::DomainName",
        "AWS::ApiGatewayV2::ApiMapping",
        "AWS::CertificateManager::Certificate",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::Logs::MetricFilter",
        "AWS::SecretsManager::Secret",
        "AWS::S3::BucketPolicy",
        "AWS::WAFv2::WebACL",
        "AWS::WAFv2::WebACLAssociation",
    }
)

SUPPORTED_TYPES: frozenset[str] = NATIVE_TYPES | PROVIDED_TYPES

# kms and dynamodb only repair moto's native Key and Table models (see their docstrings).
PROVIDER_MODULES = (
    "acm",
    "apigateway",
    "apigatewayv2",
    "cloudwatch",
    "dynamodb",
    "logs",
    "secretsmanager",
    "s3",
    "kms",
    "wafv2",
)


def register() -> None:
    """Make moto's CloudFormation use our providers. Call before serving."""
    for module in PROVIDER_MODULES:
        importlib.import_module(f"{__name__}.{module}")

    from moto.cloudformation import parsing

    # moto builds its type map from CloudFormationModel.__subclasses__() once and
    # caches it (lru_cache); drop any cache built before our classes existed.
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()

    model_map = parsing.get_model_map()
    missing = SUPPORTED_TYPES - set(model_map)
    if missing:
        raise RuntimeError(f"moto has no CloudFormation model for {sorted(missing)}")
    # Where moto has a model of its own for a provided type, ours must be the one used.
    shadowed = sorted(t for t in PROVIDED_TYPES if not model_map[t].__module__.startswith(__name__))
    if shadowed:
        raise RuntimeError(f"moto's own CloudFormation model is used for {shadowed}")
