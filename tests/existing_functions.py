"""A project copy whose environment uses an existing function in place of one of ours
(``existing_functions`` in ``config/<env>/config.yaml``), for the tests of that setting."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"  # the emulator's account (moto's default)
REGION = "us-east-1"
FORWARDING_NAME = "my-forwarding"
FORWARDING_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FORWARDING_NAME}"


def set_existing_functions(project: Path, environment: str, functions: dict[str, str]) -> int:
    """Add ``existing_functions`` first under the environment's ``sceptre_user_data``; the
    1-based line of each entry is that of the first entry plus its position."""
    path = project / "config" / environment / "config.yaml"
    lines = path.read_text().splitlines()
    (index,) = [i for i, line in enumerate(lines) if line == "sceptre_user_data:"]
    block = ["  existing_functions:"] + [f"    {name}: {arn}" for name, arn in functions.items()]
    lines[index + 1 : index + 1] = block
    path.write_text("\n".join(lines) + "\n")
    return index + 3  # the first entry, after sceptre_user_data: and existing_functions:


TRUST_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
# A trivial handler: what a public request gets from it shows it is the one API Gateway calls.
TRIVIAL_HANDLER = (
    "def handler(event, context):\n"
    "    return {'statusCode': 200, 'body': 'from the existing function'}\n"
)


def trivial_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", TRIVIAL_HANDLER)
    return buffer.getvalue()


def create_existing_function(
    lam: Any, iam: Any, name: str, tags: dict[str, str], code: bytes | None = None
) -> str:
    """A function deployed by hand, as its owner would, with a role of its own; its ARN."""
    role_name = f"{name}-role"
    try:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST_LAMBDA)[
            "Role"
        ]["Arn"]
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="handler.handler",
        Role=role_arn,
        Code={"ZipFile": code or trivial_zip()},
        Tags=tags,
    )
    return created["FunctionArn"]
