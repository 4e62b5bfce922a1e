"""AWS::SecretsManager::Secret provider backed by moto's secretsmanager backend.

moto 5.2.5 has no CloudFormation model for secrets (checked: the type is not in
``moto.cloudformation.parsing.get_model_map()``), so a stack's secret was never
created. GenerateSecretString is honoured with Python's ``secrets`` module.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import SecretsManagerBackend, secretsmanager_backends

from .base import Properties, ProviderResource, tags_as_list


def _backend(account_id: str, region_name: str) -> SecretsManagerBackend:
    return secretsmanager_backends[account_id][region_name]


def _flag(options: dict[str, Any], key: str, default: bool = False) -> bool:
    return str(options.get(key, default)).lower() == "true"


def generate_password(options: dict[str, Any]) -> str:
    """GenerateSecretString's password rules (same defaults as GetRandomPassword)."""
    excluded = set(str(options.get("ExcludeCharacters", "")))
    classes = []
    if not _flag(options, "ExcludeLowercase"):
        classes.append(string.ascii_lowercase)
    if not _flag(options, "ExcludeUppercase"):
        classes.append(string.ascii_uppercase)
    if not _flag(options, "ExcludeNumbers"):
        classes.append(string.digits)
    if not _flag(options, "ExcludePunctuation"):
        classes.append(string.punctuation)
    if _flag(options, "IncludeSpace"):
        classes.append(" ")
    classes = ["".join(c for c in chars if c not in excluded) for chars in classes]
    classes = [chars for chars in classes if chars]
    if not classes:
        raise ValueError("GenerateSecretString excludes every character")
    length = int(options.get("PasswordLength", 32))
    alphabet = "".join(classes)
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if not _flag(options, "RequireEachIncludedType", True) or length < len(classes):
            return password
        if all(any(ch in chars for ch in password) for chars in classes):
            return password


def secret_value(properties: Properties) -> str | None:
    """SecretString as given, or generated (optionally merged into a JSON template)."""
    if "SecretString" in properties:
        return str(properties["SecretString"])
    options = properties.get("GenerateSecretString")
    if options is None:
        return None
    password = generate_password(options)
    template = options.get("SecretStringTemplate")
    key = options.get("GenerateStringKey")
    if template and key:
        document = json.loads(template)
        document[key] = password
        return json.dumps(document)
    return password


class SecretsManagerSecret(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = {"Id": "arn"}
    REPLACE_ON = frozenset({"Name"})

    arn: str

    @property
    def physical_resource_id(self) -> str:
        # Ref of a secret is its ARN.
        return self.arn

    def create(self) -> None:
        p = self.properties
        backend = _backend(self.account_id, self.region_name)
        backend.create_secret(
            name=self.name,
            secret_string=secret_value(p),
            secret_binary=None,
            description=p.get("Description"),
            tags=tags_as_list(p.get("Tags")) or None,
            kms_key_id=p.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        self.arn = backend.secrets[self.name].arn

    def apply_update(self, old: Properties) -> None:
        p = self.properties
        backend = _backend(self.account_id, self.region_name)
        secret = backend.secrets[self.arn]
        secret.description = p.get("Description")
        secret.kms_key_id = p.get("KmsKeyId")
        secret.tags = tags_as_list(p.get("Tags")) or None
        # Only a changed value definition produces a new secret version.
        value_keys = ("SecretString", "GenerateSecretString")
        if any(p.get(k) != old.get(k) for k in value_keys):
            value = secret_value(p)
            if value is not None:
                backend.put_secret_value(
                    secret_id=self.arn,
                    secret_string=value,
                    secret_binary=None,  # type: ignore[arg-type]
                    client_request_token=None,  # type: ignore[arg-type]
                    version_stages=["AWSCURRENT"],
                )

    def destroy(self) -> None:
        # Immediate deletion, so a stack re-created under the same secret name
        # does not collide with a secret "scheduled for deletion".
        backend = _backend(self.account_id, self.region_name)
        if self.arn in backend.secrets:
            backend.delete_secret(
                self.arn, recovery_window_in_days=None, force_delete_without_recovery=True
            )
