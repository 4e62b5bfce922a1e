"""A project copy whose environment uses an existing function in place of one of ours
(``existing_functions`` in ``config/<env>/config.yaml``), for the tests of that setting."""

from __future__ import annotations

from pathlib import Path

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
