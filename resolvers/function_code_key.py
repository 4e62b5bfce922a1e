"""``!function_code_key <name>``: the S3 key of a function's zip, computed offline.

Pure and fast on purpose: Sceptre resolves one value at a time across all stacks, so this only
hashes local files. The upload happens in the ``upload_functions`` hook, which runs in parallel.
A function named in ``existing_functions`` is someone else's: it is not packaged.
"""

from __future__ import annotations

from pathlib import Path

from sceptre.exceptions import InvalidResolverArgumentError
from sceptre.resolvers import Resolver

from tunnel_infra.config_errors import stack_settings
from tunnel_infra.packaging import PackagingError, package

# The value for a function named in existing_functions: nothing is packaged, and the functions
# template declares the parameter without using it.
NOT_PACKAGED = "none: an existing function"


class FunctionCodeKey(Resolver):
    def resolve(self) -> str:
        if not isinstance(self.argument, str) or not self.argument:
            self.raise_invalid_argument_error("!function_code_key needs a function name")
        if not stack_settings(self.stack).ours(self.argument):
            return NOT_PACKAGED
        project = Path(self.stack.stack_group_config["project_path"])
        # The zip depends on the architecture only through vendored wheels.
        architecture = (self.stack.sceptre_user_data or {}).get("architecture", "x86_64")
        try:
            return package(project, self.argument, architecture).key
        except PackagingError as error:
            raise InvalidResolverArgumentError(f"{self.stack.name}: {error}") from None
