"""The names the project gives AWS resources and the endpoints AWS gives its APIs, said once.

The templates, the tools, the local stack and the agent all use these; the package ships in the
function zips and with the agent, so it imports nothing beyond the standard library.
"""

from __future__ import annotations

# Sceptre's ``project_code`` (config/config.yaml), the first word of every name.
PROJECT = "http-tunnel"

# API Gateway's own endpoint for an API (execute-api), in any partition: the URL suffix is
# ``amazonaws.com`` in most, ``amazonaws.com.cn`` in China (CloudFormation's AWS::URLSuffix).
EXECUTE_API_HOST = "{api_id}.execute-api.{region}.{url_suffix}"
DEFAULT_URL_SUFFIX = "amazonaws.com"
# Partitions whose regions have their own DNS suffix (botocore's endpoints.json, "dnsSuffix").
_URL_SUFFIXES = (("cn-", "amazonaws.com.cn"),)


def resource_name(thing: str, environment: str) -> str:
    """A resource's physical name: ``http-tunnel-<thing>-<env>`` (``http-tunnel-tokens-dev``)."""
    return f"{PROJECT}-{thing}-{environment}"


def thing_of(name: str, environment: str) -> str | None:
    """``http-tunnel-connect-dev`` -> ``connect``; None for a name not of this environment."""
    prefix, suffix = f"{PROJECT}-", f"-{environment}"
    if name.startswith(prefix) and name.endswith(suffix):
        return name[len(prefix) : -len(suffix)] or None
    return None


def stack_name(environment: str, stack: str) -> str:
    """Sceptre's name for a stack: ``http-tunnel-<env>-<stack>`` (config/<env>/<stack>.yaml)."""
    return f"{stack_prefix(environment)}{stack}"


def stack_prefix(environment: str) -> str:
    """What every stack of an environment's name starts with."""
    return f"{PROJECT}-{environment}-"


def url_suffix(region: str) -> str:
    """The DNS suffix of a region's partition (CloudFormation's ``AWS::URLSuffix``)."""
    for prefix, suffix in _URL_SUFFIXES:
        if region.startswith(prefix):
            return suffix
    return DEFAULT_URL_SUFFIX


def execute_api_host(api_id: str, region: str, suffix: str | None = None) -> str:
    """An API's own endpoint host: ``<api-id>.execute-api.<region>.amazonaws.com``."""
    return EXECUTE_API_HOST.format(
        api_id=api_id,
        region=region,
        url_suffix=suffix if suffix is not None else url_suffix(region),
    )
