"""Secrets Manager: secrets whose value AWS generates, so it is never in a template or config."""

from __future__ import annotations

from troposphere import AWSHelperFn
from troposphere.secretsmanager import GenerateSecretString, Secret

from tunnel_infra import access
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.suppressions import skip_checkov

SIGNING_KEY_LENGTH = 64


def generated_secret(
    stack: Blueprint, declared: access.Secret, description: str, key_arn: AWSHelperFn | None
) -> Secret:
    secret = Secret(
        f"{declared.title}Secret",
        Name=stack.name(declared.key),
        Description=description,
        GenerateSecretString=GenerateSecretString(
            PasswordLength=SIGNING_KEY_LENGTH, ExcludePunctuation=True
        ),
        DeletionPolicy="Delete",
        UpdateReplacePolicy="Delete",
    )
    if key_arn is not None:
        secret.KmsKeyId = key_arn
    else:
        skip_checkov(
            secret, "CKV_AWS_149", "Encrypted with the AWS managed key; a CMK where enabled"
        )
    return stack.add(secret)
